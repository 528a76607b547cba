# Wildcard constraints of every rule (after common.smk, which defines MODELS).
# Videos are plain names as in file names (DHF1K 001, LEDOV animal_alpaca01; salprep.store
# check_plain_name): never let {video} match across folders.
wildcard_constraints:
    video=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    model="|".join(MODELS),
