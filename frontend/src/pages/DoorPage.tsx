// The door: scan with the camera (BarcodeDetector where the browser has it) or type the code.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { friendlyMessage } from "../api/client";
import { afterSale, type Checkin } from "../api/afterSale";
import { PageHeader } from "../components/ui";
import { formatDateTime } from "../lib/format";
import { useTitle } from "../lib/hooks";
import { getAdminToken } from "../lib/storage";

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
  const [result, setResult] = useState<Checkin | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [scanning, setScanning] = useState(false);
  const video = useRef<HTMLVideoElement>(null);
  const busy = useRef(false);

  async function scan(value: string) {
    if (!value.trim() || busy.current) return;
    busy.current = true;
    setError(null);
    try {
      const isAdmin = token === getAdminToken();
      setResult(await afterSale.checkIn(eventId, value.trim(), token, isAdmin ? door : undefined));
      setCode("");
    } catch (err) {
      setError(friendlyMessage(err));
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
          <h2 data-result={result.result}>{TEXT[result.result]}</h2>
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
