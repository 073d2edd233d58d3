-- Actions and rules (issue 21): customers' code bound to the points of a flow. An action holds its
-- draft; deploying it copies the draft into a numbered version, and bindings run the
-- action's deployed version, in `position` order. Secrets are sealed (AES-GCM) before they
-- reach these tables. Writes to actions and bindings move the configuration version, so every
-- node's token path sees a new binding or deployment on its next request.
CREATE TABLE actions (
    tenant_id           TEXT NOT NULL,
    id                  TEXT NOT NULL,
    name                TEXT NOT NULL,
    code                TEXT NOT NULL,
    runtime             TEXT NOT NULL,
    supported_triggers  JSONB NOT NULL,
    dependencies        JSONB NOT NULL,
    secrets             JSONB NOT NULL,
    deployed_version    TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);
CREATE TABLE action_versions (
    tenant_id           TEXT NOT NULL,
    id                  TEXT NOT NULL,
    action_id           TEXT NOT NULL,
    number              BIGINT NOT NULL,
    code                TEXT NOT NULL,
    runtime             TEXT NOT NULL,
    supported_triggers  JSONB NOT NULL,
    dependencies        JSONB NOT NULL,
    secrets             JSONB NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, action_id, number)
);
CREATE TABLE action_bindings (
    tenant_id     TEXT NOT NULL,
    trigger_id    TEXT NOT NULL,
    position      BIGINT NOT NULL,
    id            TEXT NOT NULL,
    action_id     TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, trigger_id, position)
);
CREATE INDEX action_bindings_by_action ON action_bindings (tenant_id, action_id);

CREATE TRIGGER actions_config_changed AFTER INSERT OR UPDATE OR DELETE ON actions
    FOR EACH ROW EXECUTE FUNCTION gatehouse_config_changed();

CREATE TRIGGER action_bindings_config_changed AFTER INSERT OR UPDATE OR DELETE ON action_bindings
    FOR EACH ROW EXECUTE FUNCTION gatehouse_config_changed();

-- Rules (legacy login code) run in `rule_order` before actions; rules-config values are sealed
-- by the service and never read back through the API.
CREATE TABLE rules (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    script      TEXT NOT NULL,
    rule_order  BIGINT NOT NULL,
    enabled     BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, rule_order)
);
CREATE TABLE rules_configs (
    tenant_id   TEXT NOT NULL,
    config_key  TEXT NOT NULL,
    sealed      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, config_key)
);

CREATE TRIGGER rules_config_changed AFTER INSERT OR UPDATE OR DELETE ON rules
    FOR EACH ROW EXECUTE FUNCTION gatehouse_config_changed();

CREATE TRIGGER rules_configs_config_changed AFTER INSERT OR UPDATE OR DELETE ON rules_configs
    FOR EACH ROW EXECUTE FUNCTION gatehouse_config_changed();

-- A login an action sent away (api.redirect.sendUserTo), waiting for /continue: found by the
-- digest of the `state` the browser carries, its sealed state taken once.
CREATE TABLE login_continuations (
    tenant_id   TEXT NOT NULL,
    state_hash  TEXT NOT NULL,
    sealed      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (tenant_id, state_hash)
);
