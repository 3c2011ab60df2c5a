-- The waitlist's trigger (0013) runs its function only where it can change something: a
-- ticket coming back on sale (it may be kept), or one leaving the sale while kept or pinned
-- to an offer (both are cleared). A hold or a booking of an ordinary ticket (the hot paths:
-- the hold statement, the orders worker's batches) no longer calls the function per row;
-- its ELSE branch would only have written back the NULL and false already there.
DROP TRIGGER tickets_keep_for_waitlist ON tickets;
CREATE TRIGGER tickets_keep_for_waitlist
    BEFORE UPDATE OF status ON tickets
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       AND (NEW.status = 'AVAILABLE' OR OLD.waitlist_kept OR OLD.offer_id IS NOT NULL))
    EXECUTE FUNCTION tickets_keep_for_waitlist();
