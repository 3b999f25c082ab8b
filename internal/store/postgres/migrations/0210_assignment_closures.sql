-- Which snapshot import closed a role assignment: an `az role assignment list`, PIM
-- eligibility or estate file import that no longer listed it ends its open version at the
-- import's as-of time (closed_at, the version's valid_to), and explain names the import.
CREATE TABLE assignment_closures (
    assignment_id TEXT   NOT NULL,
    closed_at     BIGINT NOT NULL,
    import_id     TEXT   NOT NULL,
    source        TEXT   NOT NULL, -- the import's kind: estate, azure-role-assignments, azure-pim
    file_name     TEXT   NOT NULL,
    PRIMARY KEY (assignment_id, closed_at)
);
