-- Servers keep callers' current links in memory for the ARM GET (internal/link/cache.go) and
-- must hear of every change, whoever makes it: the link API of any server process, estate
-- imports, or SQL by hand. These triggers notify on commit; the payload names the principal,
-- or '*' when a partner location changes (its name is part of every cached link).
CREATE FUNCTION partnerlink_notify_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('partnerlink_links', OLD.tenant_id || '/' || OLD.object_id);
    ELSE
        PERFORM pg_notify('partnerlink_links', NEW.tenant_id || '/' || NEW.object_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER links_notify AFTER INSERT OR UPDATE OR DELETE ON links
    FOR EACH ROW EXECUTE FUNCTION partnerlink_notify_link();

CREATE FUNCTION partnerlink_notify_locations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('partnerlink_links', '*');
    RETURN NULL;
END $$;
CREATE TRIGGER partner_locations_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON partner_locations
    FOR EACH STATEMENT EXECUTE FUNCTION partnerlink_notify_locations();
CREATE TRIGGER links_truncate_notify AFTER TRUNCATE ON links
    FOR EACH STATEMENT EXECUTE FUNCTION partnerlink_notify_locations();
