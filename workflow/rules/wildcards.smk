# Wildcard constraints of every rule (after common.smk, which defines MODELS).
# Videos are strings as in file names (DHF1K: 001); never let {video} match across folders.
wildcard_constraints:
    video=r"\d+",
    model="|".join(MODELS),
