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

CREATE TRIGGER tenants_config_insert AFTER INSERT ON tenants BEGIN
    INSERT OR IGNORE INTO config_versions (tenant_id, version) VALUES (NEW.id, 0);
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = NEW.id;
END;
CREATE TRIGGER tenants_config_update AFTER UPDATE ON tenants BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = NEW.id;
END;

CREATE TRIGGER clients_config_insert AFTER INSERT ON clients BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER clients_config_update AFTER UPDATE ON clients BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER clients_config_delete AFTER DELETE ON clients BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = OLD.tenant_id;
END;

CREATE TRIGGER client_grants_config_insert AFTER INSERT ON client_grants BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER client_grants_config_update AFTER UPDATE ON client_grants BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER client_grants_config_delete AFTER DELETE ON client_grants BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = OLD.tenant_id;
END;

CREATE TRIGGER resource_servers_config_insert AFTER INSERT ON resource_servers BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER resource_servers_config_update AFTER UPDATE ON resource_servers BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER resource_servers_config_delete AFTER DELETE ON resource_servers BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = OLD.tenant_id;
END;

CREATE TRIGGER connections_config_insert AFTER INSERT ON connections BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER connections_config_update AFTER UPDATE ON connections BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER connections_config_delete AFTER DELETE ON connections BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = OLD.tenant_id;
END;

CREATE TRIGGER signing_keys_config_insert AFTER INSERT ON signing_keys BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER signing_keys_config_update AFTER UPDATE ON signing_keys BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER signing_keys_config_delete AFTER DELETE ON signing_keys BEGIN
    UPDATE config_versions SET version = version + 1 WHERE tenant_id = OLD.tenant_id;
END;
