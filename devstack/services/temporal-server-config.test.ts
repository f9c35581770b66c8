// The production Temporal server's configuration file and the checks of its PostgreSQL settings:
// what the server is started with, without starting it (temporal-server.test.ts in
// test/production runs the real server).
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { temporalServerConfigFile, type TemporalServerConfigInput } from './temporal-server-config.js';
import { parsePostgresUrl, temporalDatabaseNames } from './temporal-server-db.js';

const input = (passwordEnv?: string): TemporalServerConfigInput => ({
  ports: {
    frontendGrpc: 7001,
    frontendHttp: 7002,
    frontendMembership: 7003,
    historyGrpc: 7004,
    historyMembership: 7005,
    matchingGrpc: 7006,
    matchingMembership: 7007,
    workerGrpc: 7008,
    workerMembership: 7009,
    metrics: 7010,
  },
  postgres: { host: '127.0.0.1', port: 5432, user: 'temporal', ...(passwordEnv ? { passwordEnv } : {}) },
  databases: { main: 'hcs_ha', visibility: 'hcs_ha_visibility' },
  tls: {
    certFile: '/tls/server.pem',
    keyFile: '/tls/server.key',
    caFile: '/tls/ca.pem',
    serverName: 'temporal.hcs.internal',
    systemWorkerCertFile: '/tls/sw.pem',
    systemWorkerKeyFile: '/tls/sw.key',
  },
  dynamicConfigFile: '/cfg/dynamic.yaml',
  numHistoryShards: 4,
  logLevel: 'warn',
});

describe('temporalServerConfigFile', () => {
  it('puts every service on loopback, both stores on PostgreSQL and mutual TLS on the frontend and between services', () => {
    const c = parse(temporalServerConfigFile(input()));
    for (const svc of ['frontend', 'history', 'matching', 'worker']) expect(c.services[svc].rpc.bindOnIP).toBe('127.0.0.1');
    expect(c.services.frontend.rpc).toMatchObject({ grpcPort: 7001, httpPort: 7002, membershipPort: 7003 });
    expect(c.persistence.datastores['postgres-default'].sql).toMatchObject({
      pluginName: 'postgres12',
      databaseName: 'hcs_ha',
      password: '',
    });
    expect(c.persistence.datastores['postgres-visibility'].sql.databaseName).toBe('hcs_ha_visibility');
    for (const group of ['frontend', 'internode']) {
      expect(c.global.tls[group].server).toEqual({
        certFile: '/tls/server.pem',
        keyFile: '/tls/server.key',
        clientCaFiles: ['/tls/ca.pem'],
        requireClientAuth: true,
      });
      expect(c.global.tls[group].client).toEqual({ serverName: 'temporal.hcs.internal', rootCaFiles: ['/tls/ca.pem'] });
    }
    expect(c.global.tls.systemWorker).toMatchObject({ certFile: '/tls/sw.pem', keyFile: '/tls/sw.key' });
    expect(c.clusterMetadata.clusterInformation.active.rpcAddress).toBe('127.0.0.1:7001');
  });

  it('reads the SQL password from the environment through the server template, never writing it', () => {
    const text = temporalServerConfigFile(input('HCS_TEMPORAL_SQL_PASSWORD'));
    expect(text.startsWith('# enable-template\n')).toBe(true);
    expect(text.match(/password: \{\{ env "HCS_TEMPORAL_SQL_PASSWORD" \| quote \}\}/g)).toHaveLength(2);
    expect(() => temporalServerConfigFile(input('bad name'))).toThrow(/invalid environment variable name "bad name"/);
  });
});

describe('PostgreSQL settings', () => {
  it('parses a server URL, keeping the password out of every error', () => {
    expect(parsePostgresUrl('postgres://temporal:s%40cret@db.internal:6432/admin')).toEqual({
      host: 'db.internal',
      port: 6432,
      user: 'temporal',
      password: 's@cret',
      adminDatabase: 'admin',
    });
    expect(parsePostgresUrl('postgresql://postgres@127.0.0.1')).toEqual({
      host: '127.0.0.1',
      port: 5432,
      user: 'postgres',
      adminDatabase: 'postgres',
    });
    expect(() => parsePostgresUrl('not a url :secret')).toThrow(/is not a URL/);
    expect(() => parsePostgresUrl('not a url :secret')).not.toThrow(/secret/);
    expect(() => parsePostgresUrl('mysql://u:secret@h/db')).toThrow(/must start with postgres:\/\/ \(got mysql:\/\/\)/);
    expect(() => parsePostgresUrl('postgres://:secret@h/db')).toThrow(/names no user/);
  });

  it('derives the two database names and refuses prefixes PostgreSQL or the SQL tool would mangle', () => {
    expect(temporalDatabaseNames('hcs_ha')).toEqual({ main: 'hcs_ha', visibility: 'hcs_ha_visibility' });
    expect(() => temporalDatabaseNames('HCS')).toThrow(/must be lower-case letters/);
    expect(() => temporalDatabaseNames('a-b')).toThrow(/must be lower-case letters/);
    expect(() => temporalDatabaseNames('x; DROP DATABASE y')).toThrow(/must be lower-case letters/);
    expect(() => temporalDatabaseNames('a'.repeat(53))).toThrow(/longer than 52 characters/);
  });
});
