"""Lab Windows hosts for tests and demos: WS-Management/PSRP servers on loopback (see lab.wsman)."""
