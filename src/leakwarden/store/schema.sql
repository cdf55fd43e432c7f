-- leakwarden findings store: the current schema (version 4), used to create a new store.
-- Older stores are brought here step by step by migrations.py. The same text runs on
-- PostgreSQL after the few type translations in migrations.py (STRICT is SQLite-only).
-- Secrets never appear in clear: incidents keep a hash and a redacted preview, plus an
-- AES-GCM sealed copy only when the user opted in with --store-secrets.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,      -- setting name: schema_version, created_at, kdf_salt, key_check
    value TEXT NOT NULL          -- its value, as text
) STRICT;

CREATE TABLE scans (
    id           INTEGER PRIMARY KEY,                 -- scan number, assigned by the store
    started_at   TEXT NOT NULL,                       -- ISO-8601 UTC time the scan was recorded
    source       TEXT NOT NULL,                       -- what was scanned: path, stdin, git, image ...
    repository   TEXT NOT NULL,                       -- repository identity ('' = a local checkout)
    tool_version TEXT NOT NULL,                       -- leakwarden version that ran the scan
    ruleset_hash TEXT NOT NULL,                       -- hash of the rules in force ('' if unknown)
    findings     INTEGER NOT NULL CHECK (findings >= 0) -- findings recorded by this scan
) STRICT;

CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,              -- incident number shown to users
    fingerprint     TEXT NOT NULL UNIQUE CHECK (length(fingerprint) = 64), -- sha256(rule_id \0 secret): one incident per secret and rule
    rule_id         TEXT NOT NULL,                    -- rule that found the secret
    rule_name       TEXT NOT NULL,                    -- its human name, for reports
    provider        TEXT NOT NULL,                    -- service the secret belongs to
    severity        TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')), -- rule severity
    secret_redacted TEXT NOT NULL,                    -- a few characters to recognise the secret, never the value
    secret_sealed   BLOB,                             -- nonce || AES-GCM ciphertext of the secret; NULL unless opted in
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'ignored', 'false-positive')), -- triage state
    assignee        TEXT,                             -- who handles it (added in version 2)
    validity        TEXT NOT NULL DEFAULT 'not_checked' CHECK (validity IN ('valid', 'invalid', 'unknown', 'not_checked')), -- latest check outcome
    first_seen      TEXT NOT NULL,                    -- ISO-8601 UTC time of the first scan that found it
    last_seen       TEXT NOT NULL,                    -- ISO-8601 UTC time of the latest scan that found it
    updated_at      TEXT NOT NULL                     -- last change of status, assignee, notes or sightings
) STRICT;

CREATE TABLE occurrences (
    id            INTEGER PRIMARY KEY,                -- occurrence number
    incident_id   INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE, -- the secret found here
    key           TEXT NOT NULL UNIQUE CHECK (length(key) = 64), -- sha256(occurrence fingerprint \0 repository)
    repository    TEXT NOT NULL,                      -- repository identity ('' = a local checkout)
    kind          TEXT NOT NULL,                      -- source kind: file, git, image, stdin ...
    path          TEXT,                               -- file path inside the source, if any
    commit_id     TEXT,                               -- git commit that holds it, if any
    blob_id       TEXT,                               -- git blob id, if known
    layer         TEXT,                               -- container image layer digest, if any
    line          INTEGER NOT NULL CHECK (line >= 0), -- line of the latest sighting (informative only)
    present       INTEGER NOT NULL DEFAULT 1 CHECK (present IN (0, 1)), -- 1 if the latest scan of this repository and kind saw it
    first_seen    TEXT NOT NULL,                      -- ISO-8601 UTC time of the first sighting
    last_seen     TEXT NOT NULL,                      -- ISO-8601 UTC time of the latest sighting
    first_scan_id INTEGER NOT NULL REFERENCES scans (id), -- scan that first saw it
    last_scan_id  INTEGER NOT NULL REFERENCES scans (id), -- scan that last saw it
    start_column  INTEGER NOT NULL DEFAULT 0 CHECK (start_column >= 0), -- column of the latest sighting, 1-based; 0 = unknown (added in version 4)
    end_column    INTEGER NOT NULL DEFAULT 0 CHECK (end_column >= 0),   -- column just past the secret; 0 = unknown (added in version 4)
    ruleset_hash  TEXT NOT NULL DEFAULT ''            -- rules of the latest scan that saw it; '' if unknown (added in version 4)
) STRICT;
CREATE INDEX occurrences_incident ON occurrences (incident_id);
CREATE INDEX occurrences_repo_kind ON occurrences (repository, kind);
CREATE INDEX occurrences_blob ON occurrences (blob_id);

CREATE TABLE notes (
    id          INTEGER PRIMARY KEY,                  -- note number
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE, -- incident it is about
    kind        TEXT NOT NULL CHECK (kind IN ('note', 'status', 'assign')), -- free note or a recorded change
    author      TEXT NOT NULL,                        -- who wrote it (git user or $USER)
    body        TEXT NOT NULL,                        -- the note, or e.g. 'open -> resolved: rotated'
    created_at  TEXT NOT NULL                         -- ISO-8601 UTC time
) STRICT;
CREATE INDEX notes_incident ON notes (incident_id);

CREATE TABLE validity_checks (
    id          INTEGER PRIMARY KEY,                  -- check number (added in version 2)
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE, -- secret that was checked
    state       TEXT NOT NULL CHECK (state IN ('valid', 'invalid', 'unknown')), -- outcome
    reason      TEXT NOT NULL,                        -- why (HTTP status, error, offline check)
    checked_at  TEXT NOT NULL,                        -- ISO-8601 UTC time of the check
    scan_id     INTEGER REFERENCES scans (id)         -- scan that ran it, if any
) STRICT;
CREATE INDEX validity_incident ON validity_checks (incident_id);

CREATE TABLE scanned_blobs (
    repository   TEXT NOT NULL,                       -- repository identity the blob belongs to (added in version 2)
    blob_id      TEXT NOT NULL,                       -- git blob id (or content hash) that was scanned
    ruleset_hash TEXT NOT NULL,                       -- rules it was scanned with; new rules mean a re-scan
    scanned_at   TEXT NOT NULL,                       -- ISO-8601 UTC time
    PRIMARY KEY (repository, blob_id, ruleset_hash)
) STRICT;

CREATE TABLE bypasses (
    id         INTEGER PRIMARY KEY,                   -- bypass number (added in version 2)
    reason     TEXT NOT NULL CHECK (length(reason) > 0), -- why the hook was skipped
    author     TEXT NOT NULL,                         -- who skipped it
    context    TEXT NOT NULL,                         -- JSON object: hook, repository, refs, fingerprints
    created_at TEXT NOT NULL                          -- ISO-8601 UTC time
) STRICT;

CREATE TABLE repo_scans (
    repository   TEXT NOT NULL,                       -- repository identity, e.g. github.com/acme/api (added in version 3)
    head         TEXT NOT NULL,                       -- sha256 of the repository's refs and the commits they name, as scanned
    ruleset_hash TEXT NOT NULL,                       -- rules it was scanned with; new rules mean a re-scan
    scan_id      INTEGER REFERENCES scans (id),       -- the scan that recorded its findings
    findings     INTEGER NOT NULL CHECK (findings >= 0), -- findings that scan recorded
    bytes        INTEGER NOT NULL CHECK (bytes >= 0), -- blob bytes scanned
    scanned_at   TEXT NOT NULL,                       -- ISO-8601 UTC time
    PRIMARY KEY (repository, head, ruleset_hash)
) STRICT;
