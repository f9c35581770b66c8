// The cluster's record in the store: the plan the workflows carry (from the record and the
// cluster's derived names) and the servers the last apply reported.
import { runningConsulVersion } from '../domain/versions.js';
import { workerFailure } from '../contract/errors.js';
import { privateFqdnOf, type ClusterPlan, type ServerInfo } from '../domain/cluster-plan.js';
import { CONSUL_HTTPS_PORT } from '../domain/consul-config.js';
import { resourceKey as resourceKeyOf } from '../domain/resource-id.js';
import { getCluster, getClusterServers, setClusterServers } from '../store/clusters.js';
import type { SqlExecutor } from '../store/database.js';
import { recordServerCount } from '../store/usage.js';
import type { ClusterNamesOf } from './cluster-names.js';

export interface ClusterRecordDeps {
  db: SqlExecutor;
  /** Each cluster's id and the names derived from it (activities/cluster-names.ts). */
  names: ClusterNamesOf;
  /** Zone under which every cluster gets its endpoint name, e.g. "consul.example.net". */
  dnsZone: string;
}

export function createClusterRecordActivities({ db, names: namesOf, dnsZone }: ClusterRecordDeps) {
  return {
    /** The cluster's plan from its record; the record gone means the operation cannot go on. */
    async loadClusterPlan(a: { resourceKey: string }): Promise<ClusterPlan> {
      const c = await getCluster(db, a.resourceKey);
      if (!c) throw workerFailure('ClusterNotFound', `cluster ${a.resourceKey} is not in the store`);
      // A secondary whose primary is gone can still be deleted; building it fails at the join.
      const primaryKey = c.spec.properties.primaryClusterId ? resourceKeyOf(c.spec.properties.primaryClusterId) : undefined;
      const primary = primaryKey ? await getCluster(db, primaryKey) : undefined;
      const { names, owner } = await namesOf(a.resourceKey);
      const fqdn = `${names.dnsLabel}.${dnsZone}`;
      return {
        ...(primaryKey
          ? { federation: { primaryResourceKey: primaryKey, primaryDatacenter: primary?.spec.properties.datacenter ?? '' } }
          : {}),
        resourceKey: a.resourceKey,
        name: c.name.toLowerCase(),
        location: c.spec.location,
        datacenter: c.spec.properties.datacenter,
        serverCount: c.spec.properties.serverCount,
        consulVersion: runningConsulVersion(c),
        cidr: c.spec.properties.network.cidr,
        publicEndpoint: c.spec.properties.publicEndpoint,
        owner,
        infraResourceGroup: names.infraResourceGroup,
        fqdn,
        privateFqdn: privateFqdnOf(fqdn),
        container: names.container,
        terraformState: names.terraformState,
        ...(c.spec.properties.maintenanceWindow ? { maintenanceWindow: c.spec.properties.maintenanceWindow } : {}),
      };
    },

    /** The servers recorded by the last successful apply (used by delete and scale-down). */
    async loadClusterServers(a: { resourceKey: string }): Promise<ServerInfo[]> {
      return getClusterServers(db, a.resourceKey);
    },

    /**
     * Records the servers and the endpoints in the cluster's observed state: the private one (the
     * name that lists the servers, Consul's HTTPS port) and, for a public endpoint, the public one
     * (the load balancer's address by the cluster's name, HTTPS on 443, the ACME certificate).
     */
    async recordClusterServers(a: {
      resourceKey: string;
      servers: ServerInfo[];
      fqdn?: string;
      privateFqdn?: string;
      publicFqdn?: string;
    }): Promise<void> {
      const privateName = a.privateFqdn ?? a.fqdn;
      await setClusterServers(db, a.resourceKey, a.servers, {
        ...(privateName ? { privateEndpointUrl: `https://${privateName}:${CONSUL_HTTPS_PORT}` } : {}),
        ...(a.publicFqdn ? { publicEndpointUrl: `https://${a.publicFqdn}` } : {}),
      });
      const c = await getCluster(db, a.resourceKey);
      if (c) await recordServerCount(db, a.resourceKey, c.subscriptionId, a.servers.length, new Date());
    },
  };
}
