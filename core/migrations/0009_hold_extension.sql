-- One extension per hold (issue 16, "checkout that forgives").
-- events.hold_extension_s: seconds an extension adds; NULL = the event's hold_ttl_s, 0 = no extension.
-- holds.extended_at: when the hold was extended (NULL: not yet); a hold is extended at most once.
ALTER TABLE events
    ADD COLUMN hold_extension_s integer CHECK (hold_extension_s BETWEEN 0 AND 3600);
ALTER TABLE holds
    ADD COLUMN extended_at timestamptz;
