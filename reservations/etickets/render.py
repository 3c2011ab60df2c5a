"""The QR code of an e-ticket (PNG) and its printable page (self-contained HTML)."""

from __future__ import annotations

import base64
import html
import io

import segno

from reservations.etickets.schemas import ETicket


def qr_png(code: str, *, scale: int = 6) -> bytes:
    out = io.BytesIO()
    segno.make(code, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def ticket_page(ticket: ETicket) -> str:
    """A printable page: event, seat, holder, the QR code and the code as text."""
    e = html.escape
    png = base64.b64encode(qr_png(ticket.code, scale=8)).decode("ascii")
    half = " (half price)" if ticket.half_price else ""
    state = "" if ticket.state == "valid" else f'<p class="state">{e(ticket.state.replace("_", " "))}</p>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ticket — {e(ticket.event_name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; color: #111; }}
.ticket {{ border: 2px dashed #333; border-radius: 12px; padding: 1.5rem; text-align: center; }}
.qr {{ width: 16rem; height: 16rem; image-rendering: pixelated; }}
.code {{ font-family: monospace; font-size: .7rem; word-break: break-all; color: #555; }}
.state {{ color: #b00; font-weight: bold; text-transform: uppercase; }}
@media print {{ button {{ display: none; }} }}
</style></head>
<body><div class="ticket">
<h1>{e(ticket.event_name)}</h1>
<p>{e(ticket.venue)} — {e(ticket.starts_at.strftime("%Y-%m-%d %H:%M UTC"))}</p>
<h2>{e(ticket.seat)}</h2>
<p>Holder: <strong>{e(ticket.holder)}</strong></p>
{state}
<img class="qr" alt="QR code of the ticket" src="data:image/png;base64,{png}">
<p class="code">{e(ticket.code)}</p>
<p>Price: {_money(ticket.price_cents)}{half} · Ticket {e(str(ticket.id))}</p>
<button onclick="window.print()">Print</button>
</div></body></html>
"""
