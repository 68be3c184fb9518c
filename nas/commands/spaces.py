"""``nas spaces [NAME]``: the search spaces — decisions, size, distinct networks; one space's
options, decisions and fixed points. Also the ``--space``/``--option`` arguments that
``nas sample`` and ``nas encode`` share."""
from __future__ import annotations


from nas.fmt import big
from nas.options import parse_pairs
from nas.commands._common import print_json

ORDER = 30


def add_space_option(p) -> None:
    p.add_argument("--option", "-o", action="append", default=[], metavar="NAME=VALUE",
                   help="a space option, repeatable (e.g. preset=mobile, N=4, input=3x32x32, "
                   "widths=16,32,64); see `nas spaces NAME`")


def space_from_args(name: str, option_args: list[str]):
    from search_spaces import get_space
    return get_space(name, parse_pairs(option_args, "--option"))


def add_parser(sub) -> None:
    p = sub.add_parser("spaces", help="list the search spaces (decisions, size, distinct)",
                       description="Every search space with its number of decisions, its size "
                       "(assignments) and, where computable, how many distinct networks "
                       "(by hash) it holds. With NAME: that space's options, presets, "
                       "decisions and fixed points.")
    p.add_argument("name", nargs="?", metavar="NAME", help="one space to describe in full")
    add_space_option(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _distinct(space):
    from rich.console import Console
    with Console(stderr=True).status(f"counting the distinct networks of {space.name!r} "
                                     "(the first time hashes every assignment)…"):
        return space.distinct()


def summary(space) -> dict:
    return {"name": space.name, "decisions": len(space.decisions), "size": space.size(),
            "distinct": _distinct(space), "description": space.description}


def detail(space) -> dict:
    import dataclasses
    from search_spaces.options import describe_options
    d = summary(space)
    d["options"] = dataclasses.asdict(space.options)
    d["option_help"] = describe_options(type(space).Options, type(space).PRESETS)
    d["decision_list"] = [{"name": x.name, "choices": list(x.choices)} for x in space.decisions]
    d["fixed_points"] = {k: g.hash for k, g in space.fixed_points().items()}
    return d


def run(args) -> int:
    from search_spaces import SPACES
    from nas.errors import NasError
    if args.name is None:
        if args.option:
            raise NasError("--option needs a space NAME (`nas spaces NAME --option k=v`)")
        rows = [summary(SPACES.get(n)()) for n in SPACES.names()]
        if args.json:
            print_json(rows)
            return 0
        from rich.console import Console
        from rich.table import Table
        t = Table(title=f"{len(rows)} search spaces (default options)",
                  caption="size = assignments; distinct = networks by hash, where computable. "
                  "`nas spaces NAME` for options and decisions.", caption_justify="left")
        for col, just in (("name", "left"), ("decisions", "right"), ("size", "right"),
                          ("distinct", "right"), ("description", "left")):
            t.add_column(col, justify=just)
        for r in rows:
            t.add_row(r["name"], str(r["decisions"]), big(r["size"]), big(r["distinct"]),
                      r["description"])
        Console(width=max(100, Console().width)).print(t)
        return 0
    space = space_from_args(args.name, args.option)
    d = detail(space)
    if args.json:
        print_json(d)
        return 0
    print(f"{d['name']}: {d['description']}")
    print(f"{d['decisions']} decisions, size {big(d['size'])}, distinct "
          f"{big(d['distinct'])}")
    print("options:")
    for o in d["option_help"]:
        extra = f" (one of {', '.join(map(str, o['choices']))})" if o.get("choices") else ""
        print(f"  {o['name']} = {_fmt(d['options'][o['name']])}  — {o['help']}{extra}")
    print("decisions:")
    for x in d["decision_list"]:
        print(f"  {x['name']}: {', '.join(_fmt(c) for c in x['choices'])}")
    fp = d["fixed_points"]
    print("fixed points: " + (", ".join(fp) if fp else "none with these options"))
    for p in space.projected_fixed_points():  # the classics of other presets: where they are
        if p["name"] not in fp and p.get("assignment") is None and p.get("reason"):
            print(f"  {p['name']}: not here: {p['reason']}")
    return 0


def _fmt(v) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v))
    return str(v)
