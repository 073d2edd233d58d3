-- One counter per tenant that every change to what the token path caches moves forward
-- (applications, their grants, APIs, connections, the tenant's settings, signing keys). A
-- node keeps those rows in memory and forgets them when the counter is not the one it read
-- them at. Triggers move it in the writing transaction, whoever writes: the API, the
-- dashboard, the CLI or another node.
CREATE TABLE config_versions (
    tenant_id  TEXT PRIMARY KEY,
    version    BIGINT NOT NULL
);
INSERT INTO config_versions (tenant_id, version) SELECT id, 1 FROM tenants;

CREATE FUNCTION gatehouse_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tenant TEXT;
BEGIN
    IF TG_TABLE_NAME = 'tenants' THEN
        tenant := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        tenant := OLD.tenant_id;
    ELSE
        tenant := NEW.tenant_id;
    END IF;
    INSERT INTO config_versions (tenant_id, version) VALUES (tenant, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = config_versions.version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_config_changed AFTER INSERT OR UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION gatehouse_config_changed();
CREATE TRIGGER clients_config_changed AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION gatehouse_config_changed();
CREATE TRIGGER client_grants_config_changed AFTER INSERT OR UPDATE OR DELETE ON client_grants
    FOR EACH ROW EXECUTE FUNCTION gatehouse_config_changed();
CREATE TRIGGER resource_servers_config_changed AFTER INSERT OR UPDATE OR DELETE ON resource_servers
    FOR EACH ROW EXECUTE FUNCTION gatehouse_config_changed();
CREATE TRIGGER connections_config_changed AFTER INSERT OR UPDATE OR DELETE ON connections
    FOR EACH ROW EXECUTE FUNCTION gatehouse_config_changed();
CREATE TRIGGER signing_keys_config_changed AFTER INSERT OR UPDATE OR DELETE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION gatehouse_config_changed();
