-- The audit log (store/audit-log.ts): one row per mutating API request and per operation state
-- change, never a secret (ids, names, codes and addresses only). Append-only: rows are added by
-- hcs_audit_append alone, UPDATE is refused and DELETE only by the retention step. Each row
-- carries the SHA-256 of the previous row's hash and its own content (hcs_audit_content), so a
-- changed, removed or inserted row breaks the chain (verifyAuditChain, npm run audit:verify).
-- Appends are serialised by the single row of audit_log_head (locked by each append until its
-- transaction ends), so concurrent appends make one chain without forks. Pruned rows leave their
-- last hash in audit_log_anchor, where verification starts.
CREATE TABLE audit_log (
  seq bigint PRIMARY KEY,
  event_time timestamptz NOT NULL,
  category text NOT NULL CHECK (category IN ('request', 'operation')),
  subscription_id text,
  resource_id text,
  action text NOT NULL,
  outcome text NOT NULL,
  error_code text,
  caller text NOT NULL,
  application_id text,
  client_address text,
  correlation_id text,
  request_id text,
  operation_id text,
  prev_hash bytea NOT NULL,
  hash bytea NOT NULL
);
CREATE INDEX audit_log_by_subscription ON audit_log (subscription_id, seq);
CREATE INDEX audit_log_by_time ON audit_log (event_time);

CREATE TABLE audit_log_head (
  id integer PRIMARY KEY CHECK (id = 1),
  seq bigint NOT NULL,
  hash bytea NOT NULL
);
INSERT INTO audit_log_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE audit_log_anchor (
  id integer PRIMARY KEY CHECK (id = 1),
  seq bigint NOT NULL,
  hash bytea NOT NULL,
  pruned_at timestamptz
);
INSERT INTO audit_log_anchor (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Who started an operation (the API caller's subject; NULL: the control plane itself), named by
-- the audit rows of its state changes. Taken from the transaction's hcs.audit_caller setting
-- (store/audit-log.ts setAuditCaller) when the operation is recorded.
ALTER TABLE operations ADD COLUMN started_by text;

-- One field of the hashed content: its UTF-8 length, a colon and the value; '~' for NULL.
CREATE FUNCTION hcs_audit_field(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN v IS NULL THEN '~' ELSE octet_length(v)::text || ':' || v END
$$;

-- The hashed content of a row (store/audit-log.ts auditContent computes the same).
CREATE FUNCTION hcs_audit_content(r audit_log) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT hcs_audit_field(r.seq::text) || hcs_audit_field(to_char(r.event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
    || hcs_audit_field(r.category) || hcs_audit_field(r.subscription_id) || hcs_audit_field(r.resource_id)
    || hcs_audit_field(r.action) || hcs_audit_field(r.outcome) || hcs_audit_field(r.error_code) || hcs_audit_field(r.caller)
    || hcs_audit_field(r.application_id) || hcs_audit_field(r.client_address) || hcs_audit_field(r.correlation_id)
    || hcs_audit_field(r.request_id) || hcs_audit_field(r.operation_id)
$$;

-- Appends one row at the end of the chain; returns its sequence number.
CREATE FUNCTION hcs_audit_append(
  p_category text, p_subscription_id text, p_resource_id text, p_action text, p_outcome text, p_error_code text,
  p_caller text, p_application_id text, p_client_address text, p_correlation_id text, p_request_id text, p_operation_id text
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  head audit_log_head%ROWTYPE;
  r audit_log%ROWTYPE;
BEGIN
  SELECT * INTO head FROM audit_log_head WHERE id = 1 FOR UPDATE;
  r.seq := head.seq + 1;
  r.event_time := clock_timestamp();
  r.category := p_category;
  r.subscription_id := p_subscription_id;
  r.resource_id := p_resource_id;
  r.action := p_action;
  r.outcome := p_outcome;
  r.error_code := p_error_code;
  r.caller := p_caller;
  r.application_id := p_application_id;
  r.client_address := p_client_address;
  r.correlation_id := p_correlation_id;
  r.request_id := p_request_id;
  r.operation_id := p_operation_id;
  r.prev_hash := head.hash;
  r.hash := sha256(head.hash || convert_to(hcs_audit_content(r), 'UTF8'));
  INSERT INTO audit_log SELECT r.*;
  UPDATE audit_log_head SET seq = r.seq, hash = r.hash WHERE id = 1;
  RETURN r.seq;
END
$$;

-- Rows change only by the retention step (which sets hcs.audit_prune for its transaction).
CREATE FUNCTION hcs_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('hcs.audit_prune', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION hcs_audit_guard();

-- Every operation state change, wherever it is made (API, worker, relay), in the transaction that
-- makes it (when it commits). The caller: the API caller whose request made the change (hcs.audit_caller), else
-- the one who started the operation, else `system` (the control plane's own schedules).
CREATE FUNCTION hcs_audit_operation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM hcs_audit_append('operation', lower(NEW.subscription_id), NEW.resource_id, 'HCS.Consul/operations/' || NEW.kind,
    NEW.status, NEW.error ->> 'code',
    coalesce(nullif(current_setting('hcs.audit_caller', true), ''), NEW.started_by, 'system'), NULL, NULL, NEW.correlation_id, NULL, NEW.operation_id);
  RETURN NULL;
END
$$;
CREATE FUNCTION hcs_audit_started_by() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.started_by := coalesce(NEW.started_by, nullif(current_setting('hcs.audit_caller', true), ''));
  RETURN NEW;
END
$$;
CREATE TRIGGER operations_started_by BEFORE INSERT ON operations FOR EACH ROW EXECUTE FUNCTION hcs_audit_started_by();
-- Deferred to the commit, so the head row is the last lock such a transaction takes (it never
-- waits for another lock while holding the head: no deadlock with transactions that lock a
-- cluster's row after changing an operation, or before) and is held only while it commits.
CREATE CONSTRAINT TRIGGER operations_audit_insert AFTER INSERT ON operations
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hcs_audit_operation();
CREATE CONSTRAINT TRIGGER operations_audit_status AFTER UPDATE OF status ON operations
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION hcs_audit_operation();
