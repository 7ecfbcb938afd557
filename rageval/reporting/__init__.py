"""Reading an output folder for people: the leaderboard tables, the HTML page, the results table."""
