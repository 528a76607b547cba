# salprep workflow: decode -> GT -> (flow, depth, I3D features) -> decoders -> metrics.
# Logic lives in the salprep package; rules are thin `shell:` calls to `salprep <subcommand>`.
import os

from snakemake.utils import min_version

from salprep.config_check import check_config, read_sources

min_version("9.0")

# The demo defaults, found next to this Snakefile even when running with --directory elsewhere;
# --configfile / --config values are applied on top.
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


# The schema (models: generated from the registry), defaults filled in; a problem stops the plan
# with one line naming the key and the file it came from (not snakemake.utils.validate's dump of
# the schema). CONFIG_SOURCES: lowest precedence first, as Snakemake merges them.
CONFIG_SOURCES = read_sources(
    [os.path.join(workflow.basedir, "config", "config.yaml"), *workflow.overwrite_configfiles],
    workflow.config_settings.config)
check_config(config, os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"), CONFIG_SOURCES)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/wildcards.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/gt.smk"
include: "workflow/rules/flow.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/evaluate.smk"


# The default target (a bare `snakemake`): rules of included files never are.
rule all:
    """Every registered model's results, the comparison, the recipe record and the report's flow
    and depth figures (`snakemake --cores N all`)."""
    input:
        rules.report.output,
        rules.recipe.output,
        rules.figures.input,
