"""Reservations: customers, events, tickets, holds, purchases, orders, and the challenge contract."""
