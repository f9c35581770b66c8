// Stopping and starting one named service of a running stack, for chaos runs. The stack runs in
// the parent process of a script (script-stack.ts); the script asks over the IPC channel of its
// child process. A stopped service is started again with the same command, ports and data
// folder, so clients reconnect to the same address (OpenBao on file storage unseals itself in
// its readiness probe, Temporal keeps its SQLite file, PostgreSQL its cluster).
import type { ChildProcess } from 'node:child_process';
import type { ProcessSpec, Supervisor } from './supervisor.js';

/** Services a chaos run may take down (challtestsrv and the twin stay up: DNS and ARM have their own faults). */
export const CONTROLLABLE_SERVICES = ['openbao', 'azurite', 'pebble', 'temporal', 'postgres'] as const;
export type ControllableService = (typeof CONTROLLABLE_SERVICES)[number];

interface Request {
  kind: 'hcs-service-control';
  id: number;
  action: 'stop' | 'start';
  service: string;
}
interface Reply {
  kind: 'hcs-service-control';
  id: number;
  ok: boolean;
  error?: string;
}

/** Parent side: answers the child's stop/start requests with the stack's supervisor. */
export function serveServiceControl(child: ChildProcess, supervisor: Supervisor): void {
  const stopped = new Map<string, ProcessSpec>();
  const handle = async (req: Request): Promise<void> => {
    if (!(CONTROLLABLE_SERVICES as readonly string[]).includes(req.service))
      throw new Error(`service ${req.service} cannot be controlled; one of ${CONTROLLABLE_SERVICES.join(', ')}`);
    if (req.action === 'stop') {
      if (stopped.has(req.service)) throw new Error(`${req.service} is already stopped`);
      stopped.set(req.service, await supervisor.stopService(req.service));
    } else {
      const spec = stopped.get(req.service);
      if (!spec) throw new Error(`${req.service} was not stopped`);
      await supervisor.start(spec);
      stopped.delete(req.service);
    }
  };
  child.on('message', (m: unknown) => {
    const req = m as Partial<Request>;
    if (req?.kind !== 'hcs-service-control' || typeof req.id !== 'number') return;
    const id = req.id;
    const reply = (r: Omit<Reply, 'kind' | 'id'>) =>
      child.connected && child.send({ kind: 'hcs-service-control', id, ...r } satisfies Reply);
    handle(req as Request).then(
      () => reply({ ok: true }),
      (err: unknown) => reply({ ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

export interface ServiceControl {
  /** Stops the service (graceful signal, then SIGKILL after its stop timeout); resolves once it is down. */
  stop(service: ControllableService): Promise<void>;
  /** Starts it again as before; resolves once its readiness probe passes. */
  start(service: ControllableService): Promise<void>;
}

/** Child side: available when the script runs under stackForScript({ serviceControl: true }). */
export function serviceControl(): ServiceControl {
  if (!process.send) throw new Error('no service control: run the script through stackForScript({ serviceControl: true })');
  let next = 0;
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  process.on('message', (m: unknown) => {
    const r = m as Partial<Reply>;
    if (r?.kind !== 'hcs-service-control' || typeof r.id !== 'number') return;
    const p = pending.get(r.id);
    pending.delete(r.id);
    if (r.ok) p?.resolve();
    else p?.reject(new Error(r.error ?? 'service control failed'));
  });
  const ask = (action: Request['action'], service: string) =>
    new Promise<void>((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      process.send!({ kind: 'hcs-service-control', id, action, service } satisfies Request);
    });
  return { stop: (s) => ask('stop', s), start: (s) => ask('start', s) };
}
