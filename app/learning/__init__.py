"""Learning, not only testing: a cadre's own history across exams (his tickets, linked through his cadre
record), his 错题本 (wrong answers across practice attempts, with the right answer, explanation and legal
basis) and review drills drawn from it; and, for unit admins, the knowledge points their cadres miss most."""
