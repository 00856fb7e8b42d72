"""``entgraph generate``: write a synthetic city's department files and their ground truth.

Wire it into the root CLI with ``app.command("generate")(generate_command)``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from entgraph.errors import ConfigurationError

DEFAULT_OUT = Path("synthetic-city")
_OUT = typer.Option(DEFAULT_OUT, "--out", "-o", help="Output folder.")
_SPEC_DIR = typer.Option([], "--spec-dir", help="Extra folder of dataset specs (also generated).")
_PROFILE = typer.Option(
    "jinjiang", "--profile", "-p",
    help="City profile: jinjiang (default), register-only, dense-names, most-coded, independent "
    "(see docs/synthetic-profiles.md).",
)  # fmt: skip


def generate_command(
    enterprises: int = typer.Option(1000, "--enterprises", "-n", min=1, help="Market entities to create."),
    seed: int = typer.Option(0, "--seed", "-s", help="Random seed (same seed, same files)."),
    out: Path = _OUT,
    formats: str = typer.Option("mixed", "--formats", help="mixed (xlsx and csv), xlsx or csv."),
    noise: float = typer.Option(1.0, "--noise", min=0.0, help="Multiplier of every noise share."),
    rows: float = typer.Option(1.0, "--rows", min=0.0, help="Multiplier of sampled rows per dataset."),
    spec_dir: list[Path] = _SPEC_DIR,
    profile: str = _PROFILE,
) -> None:
    """Generate a synthetic 晋江: one file per dataset spec plus truth.csv, bad_rows.csv, enterprises.csv."""
    from entgraph.synthetic.city import FORMATS, catalog_specs, generate_city
    from entgraph.synthetic.files import FileSummary
    from entgraph.synthetic.profiles import PROFILES

    if formats not in FORMATS:
        raise ConfigurationError(f"--formats must be one of {', '.join(FORMATS)}, not {formats!r}")
    if profile not in PROFILES:
        raise ConfigurationError(f"--profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    specs = catalog_specs(spec_dir)

    def written(done: int, total: int, file: FileSummary) -> None:
        typer.echo(f"  [{done}/{total}] {file.file}: {file.rows:,} rows", err=True)

    summary = generate_city(
        enterprises,
        seed,
        out,
        specs,
        formats=formats,
        noise_scale=noise,
        row_scale=rows,
        profile=profile,
        progress=written,
    )
    pop = summary.population
    typer.echo(
        f"population: {pop['total']} entities ({pop.get('enterprise', 0)} enterprises, "
        f"{pop.get('individual', 0)} individual businesses, {pop.get('branch', 0)} branches, "
        f"{pop.get('renamed', 0)} renamed, {pop.get('status:注销', 0)} deregistered)"
    )
    typer.echo(
        f"wrote {len(summary.files)} files ({summary.data_rows} data rows, {summary.bad_rows} planted "
        f"malformed rows) to {summary.files_dir} in {summary.seconds:.1f}s"
    )
    typer.echo(
        f"profile {summary.profile}: {summary.shared_core_share:.1%} of companies share their core name "
        f"(字号 + industry word) with another; {summary.coded_share:.1%} of rows outside the register "
        "(in feeds with code columns) carry the credit code"
    )
    if summary.codeless_mentions:
        typer.echo(
            f"{summary.ambiguous_mentions} of {summary.codeless_mentions} mentions without a valid credit "
            f"code ({summary.ambiguous_mentions / summary.codeless_mentions:.1%}) are genuinely ambiguous: "
            "a shared core written with nothing that singles the enterprise out (truth/ambiguous.csv)"
        )
    truth = summary.out_dir / "truth"
    typer.echo(
        f"ground truth in {truth}: truth.csv, bad_rows.csv, enterprises.csv, ambiguous.csv, manifest.json"
    )
    typer.echo(f"load it with: entgraph load {summary.out_dir}/*")
