// The door: scan with the camera (BarcodeDetector where the browser has it) or type the code.
// Without network it keeps working: codes are checked in the browser with the event's public
// key and the revocation list (the door kit, synced while online), and the scans it admitted
// are uploaded when the network is back (lib/door.ts; docs/after-sale.md).
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { ApiError, friendlyMessage } from "../api/client";
import { afterSale, type Checkin } from "../api/afterSale";
import { PageHeader } from "../components/ui";
import {
  checkOffline,
  loadDoorState,
  mergeKit,
  rememberOnline,
  saveDoorState,
  type DoorState,
  type OfflineCheck,
} from "../lib/door";
import { formatDateTime } from "../lib/format";
import { useTitle } from "../lib/hooks";
import { getAdminToken } from "../lib/storage";

/** How often an online door refreshes its revocation list and uploads what it scanned offline. */
export const DOOR_SYNC_MS = 15_000;
const MAX_UPLOAD = 500; // scans per upload (the API's limit)

const TEXT: Record<Checkin["result"], string> = {
  admitted: "Admitted",
  already_checked_in: "Already checked in",
  refunded: "Refunded — not valid",
  wrong_event: "Ticket for another event",
  forged: "Not a valid ticket",
};

interface Detector {
  detect(source: CanvasImageSource): Promise<{ rawValue: string }[]>;
}

function barcodeDetector(): Detector | null {
  const ctor = (window as unknown as { BarcodeDetector?: new (o: { formats: string[] }) => Detector }).BarcodeDetector;
  return ctor ? new ctor({ formats: ["qr_code"] }) : null;
}

export function DoorPage({ eventId }: { eventId: string }) {
  useTitle("Door");
  const [token, setToken] = useState(() => sessionStorage.getItem(`door:${eventId}`) ?? getAdminToken() ?? "");
  const [door, setDoor] = useState("Main");
  const [code, setCode] = useState("");
  const [result, setResult] = useState<Checkin | OfflineCheck | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [scanning, setScanning] = useState(false);
  const [online, setOnline] = useState(() => navigator.onLine);
  const [synced, setSynced] = useState<string | null>(null);
  const [kitError, setKitError] = useState<string | null>(null);
  const [doorState, setDoorState] = useState<DoorState>(() => loadDoorState(eventId));
  const state = useRef(doorState);
  const video = useRef<HTMLVideoElement>(null);
  const busy = useRef(false);
  const syncing = useRef(false);
  const isAdmin = token !== "" && token === getAdminToken();
  const doorName = isAdmin ? door : undefined;

  const update = useCallback(
    (next: (current: DoorState) => DoorState) => {
      state.current = next(state.current);
      saveDoorState(eventId, state.current);
      setDoorState(state.current);
    },
    [eventId],
  );

  /** Refresh the kit (only what changed since the last one) and upload the offline scans. */
  const sync = useCallback(async () => {
    if (!token || syncing.current) return;
    syncing.current = true;
    try {
      const kit = await afterSale.doorKit(eventId, token, state.current.kit?.as_of);
      update((s) => mergeKit(s, kit));
      const pending = state.current.pending.slice(0, MAX_UPLOAD); // the rest on the next sync
      if (pending.length > 0) {
        const { results } = await afterSale.uploadOfflineScans(eventId, pending, token, doorName);
        const sent = new Set(pending.map((p) => `${p.scanned_at} ${p.code}`));
        update((s) => ({
          ...results.reduce(rememberOnline, s),
          pending: s.pending.filter((p) => !sent.has(`${p.scanned_at} ${p.code}`)),
        }));
        const admitted = results.filter((r) => r.admitted).length;
        setSynced(
          `Uploaded ${results.length} offline scan(s): ${admitted} admitted` +
            (results.length > admitted ? `, ${results.length - admitted} refused (${results.filter((r) => !r.admitted).map((r) => r.result.replace(/_/g, " ")).join(", ")})` : "") +
            ".",
        );
      }
      setOnline(true);
      setKitError(null);
    } catch (err) {
      if (err instanceof ApiError && err.status === 0) setOnline(false);
      else setKitError(friendlyMessage(err));
    } finally {
      syncing.current = false;
    }
  }, [eventId, token, doorName, update]);

  useEffect(() => {
    const cameOnline = () => {
      setOnline(true);
      void sync();
    };
    const wentOffline = () => setOnline(false);
    window.addEventListener("online", cameOnline);
    window.addEventListener("offline", wentOffline);
    // Shortly after the token stops changing (typed or pasted), then every DOOR_SYNC_MS.
    const soon = window.setTimeout(() => {
      if (navigator.onLine) void sync();
    }, 300);
    const timer = window.setInterval(() => {
      if (navigator.onLine) void sync();
    }, DOOR_SYNC_MS);
    return () => {
      window.removeEventListener("online", cameOnline);
      window.removeEventListener("offline", wentOffline);
      window.clearTimeout(soon);
      window.clearInterval(timer);
    };
  }, [sync]);

  function scanOffline(value: string) {
    const checked = checkOffline(state.current, eventId, value, doorName ?? "this door");
    if (!checked) {
      setError("No network, and this door has no door kit yet: connect once with the door token.");
      return;
    }
    update(() => checked.state);
    setResult(checked.result);
    setCode("");
  }

  async function scan(value: string) {
    if (!value.trim() || busy.current) return;
    busy.current = true;
    setError(null);
    try {
      if (!navigator.onLine) {
        setOnline(false);
        scanOffline(value.trim());
        return;
      }
      const answer = await afterSale.checkIn(eventId, value.trim(), token, doorName);
      update((s) => rememberOnline(s, answer));
      setResult(answer);
      setCode("");
    } catch (err) {
      if (err instanceof ApiError && err.status === 0) {
        setOnline(false);
        scanOffline(value.trim());
      } else setError(friendlyMessage(err));
    } finally {
      busy.current = false;
    }
  }

  useEffect(() => {
    if (!scanning) return;
    const detector = barcodeDetector();
    if (!detector) return;
    let stream: MediaStream | null = null;
    let stop = false;
    let last = "";
    (async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
        if (!video.current) return;
        video.current.srcObject = stream;
        await video.current.play();
        while (!stop) {
          const found = await detector.detect(video.current);
          const value = found[0]?.rawValue;
          if (value && value !== last) {
            last = value;
            await scan(value);
          }
          await new Promise((r) => setTimeout(r, 300));
        }
      } catch (err) {
        setError(`Camera: ${String(err)}`);
        setScanning(false);
      }
    })();
    return () => {
      stop = true;
      stream?.getTracks().forEach((t) => t.stop());
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [scanning]);

  function submit(e: FormEvent) {
    e.preventDefault();
    void scan(code);
  }

  const hasCamera = barcodeDetector() !== null;
  return (
    <div className="narrow">
      <PageHeader title="Door check-in" />
      <p className={online ? "muted" : "badge badge-closed"} data-testid="door-network">
        {online ? "Online" : "Offline: checking codes on this device"}
        {doorState.kit ? ` · door kit of ${formatDateTime(doorState.kit.as_of)}, ${Object.keys(doorState.revoked).length} revoked` : " · no door kit yet"}
        {" · "}
        <span data-testid="door-pending">{doorState.pending.length} offline scan(s) to upload</span>
        {kitError && ` · door kit: ${kitError}`}
      </p>
      {synced && (
        <p role="status" data-testid="door-sync">
          {synced}
        </p>
      )}
      <div className="field">
        <label htmlFor="door-token">Door token (or the organizer token)</label>
        <input
          id="door-token"
          value={token}
          onChange={(e) => {
            setToken(e.target.value);
            sessionStorage.setItem(`door:${eventId}`, e.target.value);
          }}
        />
      </div>
      {token === getAdminToken() && (
        <div className="field">
          <label htmlFor="door-name">Door</label>
          <input id="door-name" value={door} onChange={(e) => setDoor(e.target.value)} />
        </div>
      )}
      {hasCamera ? (
        <div>
          <button type="button" className="btn" onClick={() => setScanning((s) => !s)}>
            {scanning ? "Stop camera" : "Scan with camera"}
          </button>
          {scanning && <video ref={video} className="door-video" muted playsInline />}
        </div>
      ) : (
        <p className="muted">This browser cannot read QR codes from the camera: type or paste the code.</p>
      )}
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="ticket-code">Ticket code</label>
          <input id="ticket-code" value={code} onChange={(e) => setCode(e.target.value)} autoComplete="off" />
        </div>
        <button type="submit" className="btn btn-primary">
          Check in
        </button>
      </form>
      {error && <p role="alert">{error}</p>}
      {result && (
        <div className={`door-result ${result.admitted ? "badge-ok" : "badge-closed"}`} role="status" data-testid="door-result">
          <h2 data-result={result.result}>
            {TEXT[result.result]}
            {"offline" in result && " (checked offline)"}
          </h2>
          {result.holder && (
            <p>
              {result.holder} · {result.seat}
            </p>
          )}
          {result.result === "already_checked_in" && (
            <p>
              First checked in {formatDateTime(result.checked_in_at)} at {result.door}
            </p>
          )}
        </div>
      )}
    </div>
  );
}
