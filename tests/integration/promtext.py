"""A reader of the Prometheus text exposition format 0.0.4 (python3 stdlib
only), strict enough to catch what a scraper would reject: label values
must be quoted and escaped as the format requires."""


def _labels(s, i):
    """Parses {a="x",b="y"} from s[i] == '{'; returns (dict, next index)."""
    out = {}
    i += 1
    while s[i] != "}":
        eq = s.index("=", i)
        name = s[i:eq]
        if not name or not (name[0].isalpha() or name[0] == "_") or \
                not all(c.isalnum() or c == "_" for c in name):
            raise ValueError("bad label name %r" % name)
        if s[eq + 1] != '"':
            raise ValueError("unquoted label value in %r" % s)
        j = eq + 2
        val = []
        while s[j] != '"':
            if s[j] == "\\":
                esc = s[j + 1]
                if esc not in ('\\', '"', 'n'):
                    raise ValueError("bad escape \\%s in %r" % (esc, s))
                val.append("\n" if esc == "n" else esc)
                j += 2
            else:
                if s[j] == "\n":
                    raise ValueError("raw newline in a label value")
                val.append(s[j])
                j += 1
        out[name] = "".join(val)
        i = j + 1
        if s[i] == ",":
            i += 1
    return out, i + 1


def parse(text):
    """{(name, frozenset(labels.items())): value} and {name: type}."""
    samples, types = {}, {}
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if line.startswith("#"):
            continue
        k = 0
        while k < len(line) and line[k] not in "{ ":
            k += 1
        name = line[:k]
        labels = {}
        if k < len(line) and line[k] == "{":
            labels, k = _labels(line, k)
        value = line[k:].strip()
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise ValueError("duplicate series %r" % (key,))
        samples[key] = float(value)
    return samples, types


def value(samples, name, **labels):
    """The value of one series, or None."""
    return samples.get((name, frozenset(labels.items())))


def series(samples, name):
    """[(labels dict, value)] of every series of a metric name."""
    return [(dict(k[1]), v) for k, v in samples.items() if k[0] == name]


def histograms_ok(samples, types):
    """Problems with the histograms: buckets cumulative, +Inf == _count."""
    problems = []
    for name, typ in types.items():
        if typ != "histogram":
            continue
        groups = {}
        for labels, v in series(samples, name + "_bucket"):
            le = labels.pop("le")
            groups.setdefault(frozenset(labels.items()), []).append(
                (float("inf") if le == "+Inf" else float(le), v))
        for key, buckets in groups.items():
            buckets.sort()
            counts = [v for _, v in buckets]
            if counts != sorted(counts):
                problems.append("%s%s: buckets not cumulative: %r" %
                                (name, dict(key), buckets))
            if buckets[-1][0] != float("inf"):
                problems.append("%s%s: no +Inf bucket" % (name, dict(key)))
            count = samples.get((name + "_count", key))
            if count != buckets[-1][1]:
                problems.append("%s%s: +Inf %r != _count %r" %
                                (name, dict(key), buckets[-1][1], count))
            if (name + "_sum", key) not in samples:
                problems.append("%s%s: no _sum" % (name, dict(key)))
    return problems
