-- A hold confirm between its charge and its settle (issue 12, docs/holds.md "A charge nobody
-- settled"). The reserve step sets holds.charging_since just before the card is charged; the
-- settle that confirms the hold clears it. A marker older than the longest confirm is a
-- charge whose process died before settling it: the reconcile cron asks the provider, then
-- settles the hold with that charge or refunds it, and clears the marker.
ALTER TABLE holds
    ADD COLUMN charging_since timestamptz;
CREATE INDEX holds_charging ON holds (charging_since) WHERE charging_since IS NOT NULL;
