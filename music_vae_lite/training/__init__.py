"""Training: the loop and step functions, the objective, schedules, summaries, warm starts."""
