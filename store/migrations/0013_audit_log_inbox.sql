-- Appends no longer wait for each other. Until now hcs_audit_append extended the hash chain in the
-- appending transaction, holding the chain's head row until that transaction committed - across
-- its WAL flush - so every mutating request and operation change of the whole service queued on
-- one lock, one disk flush at a time. Now an append is a plain insert into audit_log_inbox
-- (committed with the transaction that makes it, as before, and flushed together with concurrent
-- commits), and hcs_audit_chain moves inbox rows into the chain in one short transaction per
-- batch: the head row is held for the batch, its flush shared by every row of it. Readers of the
-- log and the verifier chain what is waiting first (store/audit-log.ts chainAuditLog), and every
-- API replica does so every second, so a row waits in the inbox about a second at most.
CREATE TABLE audit_log_inbox (
  id bigserial PRIMARY KEY,
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
  operation_id text
);

-- Appends one row to the inbox; returns its inbox id (its place in the chain comes when it is chained).
CREATE OR REPLACE FUNCTION hcs_audit_append(
  p_category text, p_subscription_id text, p_resource_id text, p_action text, p_outcome text, p_error_code text,
  p_caller text, p_application_id text, p_client_address text, p_correlation_id text, p_request_id text, p_operation_id text
) RETURNS bigint LANGUAGE sql AS $$
  INSERT INTO audit_log_inbox (event_time, category, subscription_id, resource_id, action, outcome, error_code, caller,
    application_id, client_address, correlation_id, request_id, operation_id)
  VALUES (clock_timestamp(), p_category, p_subscription_id, p_resource_id, p_action, p_outcome, p_error_code, p_caller,
    p_application_id, p_client_address, p_correlation_id, p_request_id, p_operation_id)
  RETURNING id
$$;

-- Chains up to p_limit committed inbox rows, oldest first: each gets the next sequence number, the
-- previous row's hash and its own, in audit_log, and leaves the inbox. Chainers run one at a
-- time (the head row's lock). Returns how many rows it chained.
CREATE FUNCTION hcs_audit_chain(p_limit integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  head audit_log_head%ROWTYPE;
  p audit_log_inbox%ROWTYPE;
  r audit_log%ROWTYPE;
  n integer := 0;
BEGIN
  SELECT * INTO head FROM audit_log_head WHERE id = 1 FOR UPDATE;
  PERFORM set_config('hcs.audit_chain', 'on', true);
  FOR p IN SELECT * FROM audit_log_inbox ORDER BY id LIMIT p_limit LOOP
    r.seq := head.seq + 1;
    r.event_time := p.event_time;
    r.category := p.category;
    r.subscription_id := p.subscription_id;
    r.resource_id := p.resource_id;
    r.action := p.action;
    r.outcome := p.outcome;
    r.error_code := p.error_code;
    r.caller := p.caller;
    r.application_id := p.application_id;
    r.client_address := p.client_address;
    r.correlation_id := p.correlation_id;
    r.request_id := p.request_id;
    r.operation_id := p.operation_id;
    r.prev_hash := head.hash;
    r.hash := sha256(head.hash || convert_to(hcs_audit_content(r), 'UTF8'));
    INSERT INTO audit_log SELECT r.*;
    DELETE FROM audit_log_inbox WHERE id = p.id;
    head.seq := r.seq;
    head.hash := r.hash;
    n := n + 1;
  END LOOP;
  IF n > 0 THEN
    UPDATE audit_log_head SET seq = head.seq, hash = head.hash WHERE id = 1;
  END IF;
  PERFORM set_config('hcs.audit_chain', 'off', true);
  RETURN n;
END
$$;

-- The inbox is append-only too: rows leave it only by being chained.
CREATE FUNCTION hcs_audit_inbox_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('hcs.audit_chain', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_log_inbox is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER audit_log_inbox_append_only BEFORE UPDATE OR DELETE ON audit_log_inbox FOR EACH ROW EXECUTE FUNCTION hcs_audit_inbox_guard();
