"""Virtual waiting room: FIFO queue per event, admissions in proportion to stock."""
