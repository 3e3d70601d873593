"""Write the project's small data sets, deterministically, from templates.

Run from the repository root (the files are committed, so this is only needed to change them):

    python data/make_data.py            # default seed 2024, writes beside this file
    python data/make_data.py --check    # regenerate in memory and compare with the files

Three sets, all written for this project (CC0 / public domain dedication, see README.md):

- ``sentiment/{train,validation,test}.jsonl``: binary review sentiment, GLUE SST-2 columns
  (``sentence``, ``label``, ``idx``) plus ``construction`` (which template made it) and ``noisy``
  (the label was flipped on purpose). The labels follow the *overall verdict*: the clause after
  "but", the main clause of "although" / "even though", the scope of a negation, the outcome of
  an expectation, so a bag of polarity words is not enough.
- ``paraphrase/{train,validation,test}.jsonl``: sentence pairs, GLUE MRPC columns
  (``sentence1``, ``sentence2``, ``label``, ``idx``) plus ``kind`` (how the second sentence was
  made). Negatives are hard: same words with roles swapped, a negation, a changed number.
- ``corpus/tiny_stories.txt``: a few hundred one-line stories for the decoder demonstrations.

Only the standard library is used, and every random choice goes through one seeded
``random.Random``, so the same seed always writes the same bytes.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 2024
SENTIMENT_SIZES = {"train": 3200, "validation": 400, "test": 800}
PARAPHRASE_SIZES = {"train": 1600, "validation": 200, "test": 400}
CORPUS_LINES = 400
NOISE_RATE = 0.03  # fraction of sentiment labels flipped in every split (annotation noise)

# --------------------------------------------------------------------------------------------
# Sentiment lexicon
# --------------------------------------------------------------------------------------------

POS = [
    "great",
    "excellent",
    "wonderful",
    "superb",
    "fantastic",
    "terrific",
    "outstanding",
    "impressive",
    "lovely",
    "brilliant",
    "solid",
    "first-rate",
    "delightful",
    "top-notch",
    "amazing",
    "marvelous",
]
NEG = [
    "terrible",
    "awful",
    "dreadful",
    "poor",
    "weak",
    "disappointing",
    "mediocre",
    "sloppy",
    "lousy",
    "dismal",
    "abysmal",
    "subpar",
    "horrible",
    "underwhelming",
    "bad",
    "shoddy",
]
POS_HEDGED = [
    "pretty good",
    "fairly decent",
    "mostly enjoyable",
    "good enough",
    "reasonably solid",
    "quite nice",
    "decent enough",
    "rather good",
]
NEG_HEDGED = [
    "a bit disappointing",
    "somewhat weak",
    "rather poor",
    "a little underwhelming",
    "kind of mediocre",
    "slightly sloppy",
    "somewhat lacking",
    "a touch lazy",
]
INTENS = [
    "",
    "",
    "",
    "really ",
    "very ",
    "truly ",
    "incredibly ",
    "absolutely ",
    "extremely ",
    "remarkably ",
    "genuinely ",
    "surprisingly ",
]

# Each domain: the things reviewed, and aspects as (noun phrase, plural, extra +, extra -).
DOMAINS = {
    "movie": {
        "objects": [
            "the film",
            "this movie",
            "the movie",
            "this thriller",
            "the sequel",
            "this comedy",
            "the documentary",
            "this drama",
            "the remake",
            "this western",
        ],
        "aspects": [
            ("the acting", False, ["convincing", "moving"], ["wooden", "stiff"]),
            ("the plot", False, ["gripping", "clever"], ["predictable", "a mess"]),
            ("the soundtrack", False, ["haunting", "memorable"], ["grating", "forgettable"]),
            ("the pacing", False, ["tight", "brisk"], ["sluggish", "uneven"]),
            ("the dialogue", False, ["sharp", "witty"], ["clunky", "cringeworthy"]),
            ("the ending", False, ["satisfying", "powerful"], ["rushed", "baffling"]),
            ("the cinematography", False, ["gorgeous", "stunning"], ["murky", "flat"]),
            ("the script", False, ["smart", "tight"], ["lazy", "clumsy"]),
            ("the special effects", True, ["dazzling", "seamless"], ["cheesy", "dated"]),
            ("the jokes", True, ["hilarious", "fresh"], ["stale", "flat"]),
            ("the lead performance", False, ["magnetic", "moving"], ["bland", "wooden"]),
            ("the characters", True, ["rich", "likeable"], ["thin", "annoying"]),
        ],
        "again": ["watch it again", "see it again", "rewatch it"],
        "gerund": ["watching it", "seeing it", "buying a ticket"],
        "reviews": ["the critics", "the reviews", "the trailer", "my friends"],
        "fillers": [
            "I saw it on a rainy Sunday.",
            "We watched it at the cinema downtown.",
            "My brother picked this one.",
            "I streamed it last night.",
            "We went to the late showing.",
            "I watched it with my kids.",
        ],
    },
    "product": {
        "objects": [
            "this phone",
            "the blender",
            "these headphones",
            "the vacuum",
            "this laptop",
            "the kettle",
            "this backpack",
            "the printer",
            "this tablet",
            "the coffee maker",
        ],
        "aspects": [
            ("the build quality", False, ["sturdy", "premium"], ["flimsy", "cheap"]),
            ("the price", False, ["fair", "reasonable"], ["steep", "outrageous"]),
            ("the customer support", False, ["helpful", "quick"], ["useless", "rude"]),
            ("the packaging", False, ["neat", "careful"], ["damaged", "wasteful"]),
            ("the design", False, ["sleek", "elegant"], ["clunky", "ugly"]),
            ("the setup", False, ["painless", "quick"], ["confusing", "fiddly"]),
            ("the instructions", True, ["clear", "helpful"], ["confusing", "useless"]),
            ("the delivery", False, ["fast", "prompt"], ["slow", "late"]),
            ("the performance", False, ["snappy", "reliable"], ["sluggish", "unreliable"]),
            ("the battery", False, ["long-lasting", "reliable"], ["weak", "short-lived"]),
            ("the controls", True, ["intuitive", "responsive"], ["awkward", "unresponsive"]),
            ("the materials", True, ["durable", "sturdy"], ["flimsy", "cheap"]),
        ],
        "again": ["buy it again", "order another one", "buy from them again"],
        "gerund": ["buying it", "ordering it", "spending the money"],
        "reviews": ["the reviews", "the ads", "the salesman", "my coworkers"],
        "fillers": [
            "I bought it for my commute.",
            "It arrived on a Tuesday.",
            "I have used it daily for a month.",
            "It was a birthday present.",
            "I ordered it online.",
            "I replaced my old one with it.",
        ],
    },
    "restaurant": {
        "objects": [
            "this place",
            "the restaurant",
            "the bistro",
            "this cafe",
            "the diner",
            "the pizzeria",
            "this bakery",
            "the steakhouse",
            "this noodle bar",
            "the taqueria",
        ],
        "aspects": [
            ("the food", False, ["delicious", "fresh"], ["bland", "greasy"]),
            ("the service", False, ["friendly", "attentive"], ["rude", "slow"]),
            ("the ambience", False, ["cozy", "charming"], ["noisy", "gloomy"]),
            ("the dessert", False, ["heavenly", "delicious"], ["stale", "soggy"]),
            ("the wine list", False, ["thoughtful", "generous"], ["overpriced", "thin"]),
            ("the staff", False, ["welcoming", "friendly"], ["rude", "careless"]),
            ("the portions", True, ["generous", "hearty"], ["tiny", "stingy"]),
            ("the coffee", False, ["rich", "smooth"], ["bitter", "watery"]),
            ("the menu", False, ["inventive", "varied"], ["boring", "confusing"]),
            ("the prices", True, ["fair", "reasonable"], ["outrageous", "steep"]),
            ("the fries", True, ["crispy", "perfect"], ["soggy", "cold"]),
            ("the pasta", False, ["perfectly cooked", "delicious"], ["overcooked", "bland"]),
        ],
        "again": ["go back", "eat there again", "book a table again"],
        "gerund": ["going there", "eating there", "booking a table"],
        "reviews": ["the reviews", "the food critics", "my neighbours", "the guidebook"],
        "fillers": [
            "We went there for my sister's birthday.",
            "We stopped by on a Friday night.",
            "We had lunch there after a long walk.",
            "It was our anniversary dinner.",
            "We were a group of six.",
            "I came here on a work trip.",
        ],
    },
}

OPENERS = [
    "",
    "",
    "",
    "",
    "",
    "Honestly, ",
    "To be fair, ",
    "In short, ",
    "Frankly, ",
    "All in all, ",
    "Well, ",
    "I have to say, ",
]


def cap(s: str) -> str:
    return s[0].upper() + s[1:]


class Writer:
    """Builds sentiment clauses with a given polarity (1 = positive, 0 = negative)."""

    def __init__(self, rng: random.Random, domain: str):
        self.r = rng
        self.d = DOMAINS[domain]
        self.obj = rng.choice(self.d["objects"])

    def pick(self, xs):
        return self.r.choice(xs)

    def aspects(self, k: int):
        return self.r.sample(self.d["aspects"], k)

    def adj(self, asp, p: int) -> str:
        pool = (POS if p else NEG) + (asp[2] if p else asp[3]) * 3
        return self.pick(pool)

    def be(self, asp) -> str:
        return "were" if asp[1] else "was"

    def clause(self, asp, p: int) -> str:
        """'the plot was not bad at all', 'I loved the soundtrack', ... with polarity p."""
        a, be = asp[0], self.be(asp)
        form = self.r.random()
        if form < 0.40:
            return f"{a} {be} {self.pick(INTENS)}{self.adj(asp, p)}"
        if form < 0.58:  # polarity through negation: the polarity word is the opposite one
            neg_adj = self.adj(asp, 1 - p)
            if p:
                return self.pick(
                    [
                        f"{a} {be} not bad at all",
                        f"{a} {be} anything but {neg_adj}",
                        f"{a} {be} far from {neg_adj}",
                        f"{a} {be} not {neg_adj} at all",
                        f"{a} {be} never {neg_adj}",
                        f"{a} {be} not the least bit {neg_adj}",
                    ]
                )
            return self.pick(
                [
                    f"{a} {be} not {neg_adj}",
                    f"{a} {be} not particularly {neg_adj}",
                    f"{a} {be} far from {neg_adj}",
                    f"{a} {be} hardly {neg_adj}",
                    f"{a} {be} anything but {neg_adj}",
                    f"{a} {be} nothing special",
                    f"{a} {be} not exactly {neg_adj}",
                ]
            )
        if form < 0.70:
            return f"{a} {be} {self.pick(POS_HEDGED if p else NEG_HEDGED)}"
        if p:
            return self.pick(
                [
                    f"I loved {a}",
                    f"I really enjoyed {a}",
                    f"{a} impressed me",
                    f"{a} blew me away",
                    f"I can't fault {a}",
                    f"I have no complaints about {a}",
                    f"{a} exceeded my expectations",
                    f"{a} did not disappoint",
                    f"I could not stop praising {a}",
                ]
            )
        return self.pick(
            [
                f"I hated {a}",
                f"{a} let me down",
                f"I could not stand {a}",
                f"{a} fell flat",
                f"I did not enjoy {a}",
                f"{a} did not impress me",
                f"{a} left a lot to be desired",
                f"I was not impressed by {a}",
                f"{a} disappointed me",
            ]
        )

    def np(self, asp, p: int) -> str:
        """A noun phrase carrying polarity: 'the gorgeous cinematography'."""
        return f"the {self.adj(asp, p)} {asp[0][4:]}"

    def verdict(self, p: int) -> str:
        """An overall judgement of the whole item, polarity p."""
        d, o = self.d, self.obj
        if p:
            return self.pick(
                [
                    f"I would recommend {o}",
                    f"I would happily {self.pick(d['again'])}",
                    f"overall {o} was {self.pick(INTENS)}{self.pick(POS)}",
                    "it was worth every penny",
                    f"I enjoyed {o} overall",
                    f"I don't regret {self.pick(d['gerund'])}",
                    "I would not hesitate to recommend it",
                    f"I can't wait to {self.pick(d['again'])}",
                    f"{o} won me over",
                    "it was money well spent",
                    "I was pleasantly surprised",
                    f"{o} is a real gem",
                    "I left with a smile on my face",
                    f"overall I really liked {o}",
                ]
            )
        return self.pick(
            [
                f"I would not recommend {o}",
                f"I would not {self.pick(d['again'])}",
                f"overall {o} was {self.pick(INTENS)}{self.pick(NEG)}",
                "it was a waste of money",
                f"I regret {self.pick(d['gerund'])}",
                "I want my money back",
                "it was not worth the money",
                f"I can't recommend {o}",
                f"{o} left me cold",
                "I was bitterly disappointed",
                f"I won't {self.pick(d['again'])}",
                f"{o} is best avoided",
                "I left in a bad mood",
                f"overall I did not like {o}",
            ]
        )


# One function per construction; each returns a sentence whose label is p.


def c_simple(w: Writer, p: int) -> str:
    return cap(w.clause(w.aspects(1)[0], p)) + "."


def c_verdict(w: Writer, p: int) -> str:
    return cap(w.verdict(p)) + "."


def c_and(w: Writer, p: int) -> str:
    a, b = w.aspects(2)
    return cap(f"{w.clause(a, p)} and {w.clause(b, p)}.")


def c_but(w: Writer, p: int) -> str:
    """The clause after the contrast decides: '... great but ... a mess' is negative."""
    a, b = w.aspects(2)
    conj = w.pick([", but ", " but ", ", yet ", ". However, ", ". Still, ", ", but in the end "])
    second = w.clause(b, p) if w.r.random() < 0.5 else w.verdict(p)
    return cap(w.clause(a, 1 - p)) + conj + second + "."


def c_although(w: Writer, p: int) -> str:
    """Concessive clause first, main clause last."""
    a, b = w.aspects(2)
    conj = w.pick(["Although", "Even though", "While", "Though"])
    main = w.clause(b, p) if w.r.random() < 0.5 else w.verdict(p)
    return f"{conj} {w.clause(a, 1 - p)}, {main}."


def c_even_though(w: Writer, p: int) -> str:
    """Main clause FIRST: the last clause does not decide here."""
    a, b = w.aspects(2)
    conj = w.pick(["even though", "although", "even if", "though"])
    main = w.clause(b, p) if w.r.random() < 0.5 else w.verdict(p)
    return cap(f"{main}, {conj} {w.clause(a, 1 - p)}.")


def c_despite(w: Writer, p: int) -> str:
    a, b = w.aspects(2)
    prep = w.pick(["Despite", "In spite of", "Even with"])
    main = w.clause(b, p) if w.r.random() < 0.5 else w.verdict(p)
    if w.r.random() < 0.5:
        return f"{prep} {w.np(a, 1 - p)}, {main}."
    return cap(f"{main}, {prep.lower()} {w.np(a, 1 - p)}.")


def c_mixed(w: Writer, p: int) -> str:
    """Two aspects against the verdict: most polarity words point the wrong way."""
    a, b = w.aspects(2)
    pb = w.pick([p, 1 - p])
    if w.r.random() < 0.6:
        link = w.pick([", but overall ", ", but in the end ", ", yet overall ", ". Even so, "])
        v = w.verdict(p).removeprefix("overall ")
        return cap(f"{w.clause(a, 1 - p)} and {w.clause(b, 1 - pb)}") + link + v + "."
    conj = w.pick(["even if", "even though", "although"])
    return cap(f"{w.verdict(p)}, {conj} {w.clause(a, 1 - p)} and {w.clause(b, 1 - pb)}.")


def c_expect(w: Writer, p: int) -> str:
    """The outcome decides, not the expectation: 'I expected to hate it, but I loved it'."""
    o = w.obj
    if w.r.random() < 0.55:  # expectation reversed
        if p:
            start = w.pick(
                [
                    "I expected to hate it",
                    "I was ready to hate it",
                    "I did not expect much",
                    "I went in with low expectations",
                    f"I assumed {o} would be {w.pick(NEG)}",
                    f"Everyone told me {o} was {w.pick(NEG)}",
                ]
            )
            end = w.pick(
                [
                    "I ended up loving it",
                    "it won me over",
                    f"it turned out to be {w.pick(INTENS)}{w.pick(POS)}",
                    "I was pleasantly surprised",
                    "I came out delighted",
                    f"it was {w.pick(INTENS)}{w.pick(POS)}",
                ]
            )
        else:
            start = w.pick(
                [
                    "I expected to love it",
                    "I was ready to love it",
                    "I had high hopes",
                    "I went in with high expectations",
                    f"I assumed {o} would be {w.pick(POS)}",
                    f"Everyone told me {o} was {w.pick(POS)}",
                ]
            )
            end = w.pick(
                [
                    "I ended up hating it",
                    "it was a letdown",
                    f"it turned out to be {w.pick(INTENS)}{w.pick(NEG)}",
                    "it did not live up to the hype",
                    "I came out disappointed",
                    f"it was {w.pick(INTENS)}{w.pick(NEG)}",
                ]
            )
        return f"{start}, {w.pick(['but', 'but in fact', 'yet'])} {end}."
    # expectation confirmed: the sentiment word of the expectation is the answer
    if p:
        return w.pick(
            [
                "I expected to love it, and I did.",
                "I had high hopes, and it delivered.",
                f"Everyone said {o} was {w.pick(POS)}, and they were right.",
                "I expected a treat and got exactly that.",
                "I was ready to love it, and it did not disappoint.",
            ]
        )
    return w.pick(
        [
            "I expected to hate it, and I did.",
            "I had low expectations, and it still disappointed.",
            f"Everyone said {o} was {w.pick(NEG)}, and they were right.",
            "I expected the worst and got exactly that.",
            "I did not expect much, and I got even less.",
        ]
    )


def c_nothing(w: Writer, p: int) -> str:
    """Sentence-level negation scoping over a polarity word."""
    o = w.obj
    if p:
        return cap(
            w.pick(
                [
                    f"there was nothing {w.pick(NEG)} about {o}.",
                    "I could not find a single thing to complain about.",
                    f"nobody could call {o} {w.pick(NEG)}.",
                    f"I don't regret {w.pick(w.d['gerund'])} at all.",
                    f"not once was I disappointed by {o}.",
                    f"I can't say anything bad about {o}.",
                    f"{o} never once felt {w.pick(NEG)}.",
                ]
            )
        )
    return cap(
        w.pick(
            [
                f"there was nothing {w.pick(POS)} about {o}.",
                "I could not find a single thing I liked.",
                f"nobody could call {o} {w.pick(POS)}.",
                f"I can't say I enjoyed {o}.",
                f"not once was I impressed by {o}.",
                f"I can't say anything good about {o}.",
                f"{o} never once felt {w.pick(POS)}.",
            ]
        )
    )


def c_only(w: Writer, p: int) -> str:
    """'The only good thing was X' is negative; 'my only complaint is X' is positive."""
    a, b = w.aspects(2)
    if p:
        return cap(
            w.pick(
                [
                    f"my only complaint is that {w.clause(a, 0)}.",
                    f"the only problem was that {w.clause(a, 0)}, and even that was minor.",
                    f"{w.clause(a, 0)}, but that is my only gripe.",
                    f"apart from {w.np(a, 0)}, {w.clause(b, 1)}.",
                ]
            )
        )
    return cap(
        w.pick(
            [
                f"the only good thing about {w.obj} was {w.np(a, 1)}.",
                f"{w.clause(a, 1)}, but that was the only highlight.",
                f"{w.np(a, 1)} {w.be(a)} the one thing that worked.",
                f"apart from {w.np(a, 1)}, {w.clause(b, 0)}.",
            ]
        )
    )


def c_counterfactual(w: Writer, p: int) -> str:
    """Wishes and 'could have been' are negative although they name good things."""
    a = w.aspects(1)[0]
    o = w.obj
    if p:
        return cap(
            w.pick(
                [
                    f"{a[0]} could not have been better.",
                    "I would not change a thing.",
                    f"I could not have asked for more from {o}.",
                    f"it is hard to imagine {o} being any better.",
                ]
            )
        )
    return cap(
        w.pick(
            [
                f"I wish {a[0]} had been {w.adj(a, 1)}.",
                f"{o} could have been {w.pick(POS)} if {a[0]} had been better.",
                f"{a[0]} should have been {w.adj(a, 1)}.",
                f"with {w.np(a, 1)} {o} might have worked, but it never came together.",
            ]
        )
    )


def c_compare(w: Writer, p: int) -> str:
    o, ref = w.obj, w.pick(w.d["reviews"])
    much = w.pick(["", "much ", "far ", "a lot ", "way "])
    if p:
        return cap(
            w.pick(
                [
                    f"{o} was {much}better than I expected.",
                    f"{o} was not as {w.pick(NEG)} as {ref} said.",
                    f"{o} was nowhere near as {w.pick(NEG)} as I feared.",
                    f"{o} was even better than {ref} promised.",
                ]
            )
        )
    return cap(
        w.pick(
            [
                f"{o} was {much}worse than I expected.",
                f"{o} was not as {w.pick(POS)} as {ref} said.",
                f"{o} was nowhere near as {w.pick(POS)} as I hoped.",
                f"{o} was even worse than {ref} warned.",
            ]
        )
    )


# (construction, weight): the lexical ones are the minority so that a bag of words falls short.
CONSTRUCTIONS = [
    (c_simple, 8),
    (c_verdict, 5),
    (c_and, 5),
    (c_but, 16),
    (c_although, 9),
    (c_even_though, 9),
    (c_despite, 8),
    (c_mixed, 12),
    (c_expect, 8),
    (c_nothing, 6),
    (c_only, 6),
    (c_counterfactual, 4),
    (c_compare, 4),
]


def sentiment_sentence(rng: random.Random, p: int) -> tuple[str, str]:
    fn = rng.choices([c for c, _ in CONSTRUCTIONS], [w for _, w in CONSTRUCTIONS])[0]
    w = Writer(rng, rng.choice(sorted(DOMAINS)))
    s = fn(w, p)
    opener = rng.choice(OPENERS)
    if opener:
        s = opener + s[0].lower() + s[1:] if not s.startswith("I ") else opener + s
    if rng.random() < 0.15:
        s = rng.choice(w.d["fillers"]) + " " + s
    return s, fn.__name__[2:]


def make_sentiment(rng: random.Random, seen: set[str]) -> dict[str, list[dict]]:
    out = {}
    for split, n in SENTIMENT_SIZES.items():
        labels = [i % 2 for i in range(n)]
        rng.shuffle(labels)
        rows = []
        for p in labels:
            while True:
                s, kind = sentiment_sentence(rng, p)
                if s.lower() not in seen:
                    seen.add(s.lower())
                    break
            rows.append(
                {"sentence": s, "label": p, "idx": len(rows), "construction": kind, "noisy": False}
            )
        for i in sorted(rng.sample(range(n), round(NOISE_RATE * n))):
            rows[i]["label"] = 1 - rows[i]["label"]
            rows[i]["noisy"] = True
        out[split] = rows
    return out


# --------------------------------------------------------------------------------------------
# Paraphrase pairs: events told twice, the second time the same or subtly different
# --------------------------------------------------------------------------------------------

COMPANIES = [
    "Northwind",
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Foods",
    "Vandelay Industries",
    "Stark Mobile",
    "Wayne Logistics",
    "Hooli",
    "Soylent Labs",
    "Cyberdyne",
    "Tyrell Systems",
    "Oscorp",
    "Gringotts Bank",
    "Duff Brewing",
    "Pied Piper",
    "Massive Dynamic",
    "Aperture Tech",
]
PEOPLE = [
    "Maria Lopez",
    "James Chen",
    "Aisha Khan",
    "Peter Novak",
    "Sofia Rossi",
    "David Okafor",
    "Elena Petrova",
    "Tom Becker",
    "Yuki Tanaka",
    "Omar Haddad",
    "Grace Kim",
    "Lucas Silva",
    "Hannah Weber",
    "Ravi Patel",
    "Clara Dubois",
    "Noah Jensen",
]
ROLES = [
    "the mayor",
    "the senator",
    "the chief executive",
    "the union leader",
    "the minister",
    "the coach",
    "the director",
    "the governor",
]
TEAMS = [
    "the Falcons",
    "the Rovers",
    "the Tigers",
    "the Mariners",
    "the Wolves",
    "the Comets",
    "the Pilots",
    "the Giants",
    "the Hornets",
    "the Rangers",
]
CITIES = [
    "Lisbon",
    "Denver",
    "Osaka",
    "Nairobi",
    "Toronto",
    "Krakow",
    "Lyon",
    "Austin",
    "Perth",
    "Bergen",
    "Seville",
    "Dublin",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
QUARTERS = ["the first quarter", "the second quarter", "the third quarter", "the fourth quarter"]
ISSUES = [
    "the budget cuts",
    "the new tax",
    "the delayed bridge",
    "the school closures",
    "the water shortage",
    "the housing plan",
    "the rail strike",
    "the hospital merger",
]
METRICS = ["Sales", "Profits", "Revenue", "Exports", "Shares", "Ticket sales", "Subscriptions"]
RISKS = [
    ("regular exercise", "heart disease"),
    ("a daily walk", "depression"),
    ("eating more fibre", "diabetes"),
    ("drinking green tea", "high blood pressure"),
    ("getting enough sleep", "obesity"),
    ("the new vaccine", "severe flu"),
    ("reading aloud", "memory loss"),
]
NUM_WORDS = {
    2: "two",
    3: "three",
    4: "four",
    5: "five",
    6: "six",
    7: "seven",
    8: "eight",
    9: "nine",
    10: "ten",
    12: "twelve",
    15: "fifteen",
    20: "twenty",
}


def other(rng, xs, x):
    return rng.choice([y for y in xs if y != x])


def near(rng, n: int) -> int:
    """A different but plausible number (the 'changed number' hard negative)."""
    return rng.choice([m for m in (n + 1, n + 2, n - 1, n * 2, n + 10) if m > 0 and m != n])


def ev_acquire(r):
    a, b = r.sample(COMPANIES, 2)
    n, y = r.choice([12, 45, 80, 150, 230, 310, 520, 900]), r.randint(2009, 2023)
    s1 = f"{a} acquired {b} for ${n} million in {y}."
    pos = [
        f"{b} was bought by {a} for ${n} million in {y}.",
        f"In {y}, {a} purchased {b} in a deal worth ${n} million.",
        f"{a} bought {b} in {y}, paying ${n} million.",
    ]
    neg = {
        "swap": f"{b} acquired {a} for ${n} million in {y}.",
        "negation": f"{a} did not acquire {b} for ${n} million in {y}.",
        "number": f"{b} was bought by {a} for ${near(r, n)} million in {y}.",
        "year": f"In {y + r.choice([-2, -1, 1, 3])}, {a} purchased {b} in a deal worth ${n} million.",
        "entity": f"{a} acquired {other(r, COMPANIES, b)} for ${n} million in {y}.",
    }
    return s1, pos, neg


def ev_match(r):
    a, b = r.sample(TEAMS, 2)
    x = r.randint(2, 6)
    yv, day = r.randint(0, x - 1), r.choice(DAYS)
    s1 = f"{cap(a)} beat {b} {x}-{yv} on {day}."
    pos = [
        f"{cap(b)} lost {x}-{yv} to {a} on {day}.",
        f"On {day}, {a} defeated {b} by a score of {x}-{yv}.",
        f"{cap(a)} won {x}-{yv} against {b} on {day}.",
    ]
    neg = {
        "swap": f"{cap(b)} beat {a} {x}-{yv} on {day}.",
        "converse": f"{cap(a)} lost {x}-{yv} to {b} on {day}.",
        "number": f"{cap(a)} beat {b} {x + 1}-{yv} on {day}.",
        "day": f"On {other(r, DAYS, day)}, {a} defeated {b} by a score of {x}-{yv}.",
        "entity": f"{cap(a)} beat {other(r, [t for t in TEAMS if t != a], b)} {x}-{yv} on {day}.",
    }
    return s1, pos, neg


def ev_metric(r):
    m, c, q = r.choice(METRICS), r.choice(COMPANIES), r.choice(QUARTERS)
    n, up = r.choice([3, 4, 5, 7, 8, 9, 12, 15, 18, 22, 30]), r.random() < 0.5
    v1, v2 = ("rose", "increased") if up else ("fell", "decreased")
    anti = "fell" if up else "rose"
    s1 = f"{m} at {c} {v1} {n} percent in {q}."
    pos = [
        f"{c} said its {m.lower()} {v2} by {n}% in {q}.",
        f"In {q}, {m.lower()} at {c} {v1} by {n} percent.",
        f"{c} reported that {m.lower()} {v2} {n} percent in {q}.",
    ]
    neg = {
        "antonym": f"{m} at {c} {anti} {n} percent in {q}.",
        "number": f"{c} said its {m.lower()} {v2} by {near(r, n)}% in {q}.",
        "negation": f"{m} at {c} did not {'rise' if up else 'fall'} {n} percent in {q}.",
        "period": f"In {other(r, QUARTERS, q)}, {m.lower()} at {c} {v1} by {n} percent.",
        "entity": f"{m} at {other(r, COMPANIES, c)} {v1} {n} percent in {q}.",
    }
    return s1, pos, neg


def ev_criticize(r):
    a, b = r.sample(PEOPLE, 2)
    ra, issue = r.choice(ROLES), r.choice(ISSUES)
    s1 = f"{a}, {ra}, criticized {b} over {issue}."
    pos = [
        f"{b} was criticized by {ra}, {a}, over {issue}.",
        f"{a}, {ra}, attacked {b} for {issue}.",
        f"Over {issue}, {ra}, {a}, criticized {b}.",
    ]
    neg = {
        "swap": f"{b}, {ra}, criticized {a} over {issue}.",
        "antonym": f"{a}, {ra}, praised {b} over {issue}.",
        "negation": f"{a}, {ra}, refused to criticize {b} over {issue}.",
        "topic": f"{a}, {ra}, criticized {b} over {other(r, ISSUES, issue)}.",
        "entity": f"{a}, {ra}, criticized {other(r, PEOPLE, b)} over {issue}.",
    }
    return s1, pos, neg


def ev_delay(r):
    city, n = r.choice(CITIES), r.choice([5, 10, 15, 20, 25, 40, 45, 90])
    day = r.choice(DAYS)
    s1 = f"The train to {city} was delayed by {n} minutes on {day}."
    pos = [
        f"On {day}, the {city} train ran {n} minutes late.",
        f"The {city}-bound train arrived {n} minutes behind schedule on {day}.",
        f"On {day} the train to {city} left {n} minutes late.",
    ]
    neg = {
        "direction": f"The train from {city} was delayed by {n} minutes on {day}.",
        "number": f"On {day}, the {city} train ran {near(r, n)} minutes late.",
        "negation": f"The train to {city} was not delayed on {day}.",
        "antonym": f"The train to {city} arrived {n} minutes early on {day}.",
        "entity": f"The train to {other(r, CITIES, city)} was delayed by {n} minutes on {day}.",
    }
    return s1, pos, neg


def ev_study(r):
    x, y = r.choice(RISKS)
    n = r.choice([10, 15, 20, 25, 30, 40])
    s1 = f"A new study found that {x} reduces the risk of {y} by {n} percent."
    pos = [
        f"According to a new study, {x} lowers the risk of {y} by {n}%.",
        f"Researchers report that {x} cuts the risk of {y} by {n} percent.",
        f"The risk of {y} falls by {n} percent with {x}, a new study found.",
    ]
    neg = {
        "antonym": f"A new study found that {x} raises the risk of {y} by {n} percent.",
        "number": f"According to a new study, {x} lowers the risk of {y} by {near(r, n)}%.",
        "negation": f"A new study found that {x} does not reduce the risk of {y}.",
        "entity": f"A new study found that {x} reduces the risk of {other(r, [q for _, q in RISKS], y)} by {n} percent.",
        "hedge": f"A new study asks whether {x} reduces the risk of {y} by {n} percent.",
    }
    return s1, pos, neg


def ev_vote(r):
    city, n = r.choice(CITIES), r.choice([2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20])
    homes = r.choice([120, 300, 450, 800, 1200, 2500])
    s1 = f"The {city} council approved a plan for {homes} new homes by {n} votes."
    nw = NUM_WORDS.get(n, str(n))
    pos = [
        f"A plan for {homes} new homes was approved by the {city} council by {nw} votes.",
        f"By a margin of {n} votes, the {city} council backed a plan to build {homes} homes.",
        f"{city}'s council voted to approve {homes} new homes, with a margin of {n} votes.",
    ]
    neg = {
        "antonym": f"The {city} council rejected a plan for {homes} new homes by {n} votes.",
        "number": f"The {city} council approved a plan for {near(r, homes)} new homes by {n} votes.",
        "negation": f"The {city} council did not approve the plan for {homes} new homes.",
        "margin": f"A plan for {homes} new homes was approved by the {city} council by {near(r, n)} votes.",
        "entity": f"The {other(r, CITIES, city)} council approved a plan for {homes} new homes by {n} votes.",
    }
    return s1, pos, neg


def ev_hire(r):
    a, b = r.sample(PEOPLE, 2)
    c, y = r.choice(COMPANIES), r.randint(2005, 2023)
    s1 = f"{a} hired {b} as head of research at {c} in {y}."
    pos = [
        f"{b} was hired by {a} to lead research at {c} in {y}.",
        f"In {y}, {a} appointed {b} head of research at {c}.",
        f"{b} joined {c} as head of research in {y}, hired by {a}.",
    ]
    neg = {
        "swap": f"{b} hired {a} as head of research at {c} in {y}.",
        "antonym": f"{a} fired {b} as head of research at {c} in {y}.",
        "year": f"In {y + r.choice([-3, -1, 2, 4])}, {a} appointed {b} head of research at {c}.",
        "entity": f"{a} hired {b} as head of research at {other(r, COMPANIES, c)} in {y}.",
        "negation": f"{a} did not hire {b} as head of research at {c} in {y}.",
    }
    return s1, pos, neg


EVENTS = [ev_acquire, ev_match, ev_metric, ev_criticize, ev_delay, ev_study, ev_vote, ev_hire]


def make_paraphrase(rng: random.Random, seen: set[str]) -> dict[str, list[dict]]:
    out = {}
    for split, n in PARAPHRASE_SIZES.items():
        labels = [i % 2 for i in range(n)]
        rng.shuffle(labels)
        rows = []
        for y in labels:
            while True:
                s1, pos, neg = rng.choice(EVENTS)(rng)
                if y:
                    kind, s2 = "paraphrase", rng.choice(pos)
                else:
                    kind = rng.choice(sorted(neg))
                    s2 = neg[kind]
                if rng.random() < 0.5:  # either sentence may come first
                    s1, s2 = s2, s1
                if s1.lower() not in seen and s2.lower() not in seen:
                    seen.update([s1.lower(), s2.lower()])
                    break
            rows.append(
                {"sentence1": s1, "sentence2": s2, "label": y, "idx": len(rows), "kind": kind}
            )
        out[split] = rows
    return out


# --------------------------------------------------------------------------------------------
# Tiny stories for the decoder demonstrations
# --------------------------------------------------------------------------------------------

KIDS = [
    ("Mia", "she", "her"),
    ("Leo", "he", "his"),
    ("Sam", "he", "his"),
    ("Nora", "she", "her"),
    ("Ben", "he", "his"),
    ("Ava", "she", "her"),
    ("Tom", "he", "his"),
    ("Lily", "she", "her"),
    ("Max", "he", "his"),
    ("Zoe", "she", "her"),
    ("Finn", "he", "his"),
    ("Ruby", "she", "her"),
]
THINGS = ["ball", "kite", "box", "hat", "shell", "drum", "book", "cup", "boat", "stone"]
COLOURS = ["red", "blue", "green", "yellow", "little", "shiny", "big", "old"]
PLACES = ["garden", "park", "kitchen", "attic", "beach", "forest", "yard", "shed"]
FRIENDS = ["dog", "cat", "mom", "dad", "best friend", "grandma", "little brother", "big sister"]
ACTS = [
    "played with it",
    "laughed",
    "sang a song",
    "ran in circles",
    "built a tower",
    "drew a picture",
    "shared a snack",
    "danced",
]
ENDS = [
    "until the sun went down",
    "all afternoon",
    "until it was time for bed",
    "until it started to rain",
    "for a long time",
    "until dinner was ready",
]
MORALS = [
    "It was the best day ever.",
    "Then they went home happy.",
    "They promised to do it again.",
    "Everyone smiled.",
    "It was a good day.",
    "Then they took a nap.",
]


def make_corpus(rng: random.Random) -> list[str]:
    lines, seen = [], set()
    while len(lines) < CORPUS_LINES:
        name, he, his = rng.choice(KIDS)
        t, c, pl, fr = (
            rng.choice(THINGS),
            rng.choice(COLOURS),
            rng.choice(PLACES),
            rng.choice(FRIENDS),
        )
        kind = rng.random()
        if kind < 0.5:
            s = (
                f"{name} found a {c} {t} in the {pl}. {cap(he)} showed it to {his} {fr}. "
                f"They {rng.choice(ACTS)} {rng.choice(ENDS)}. {rng.choice(MORALS)}"
            )
        else:
            s = (
                f"One day {name} lost {his} {c} {t}. {cap(he)} looked in the {pl}, but it was not there. "
                f"Then {his} {fr} found it in the {other(rng, PLACES, pl)}. {rng.choice(MORALS)}"
            )
        if s not in seen:
            seen.add(s)
            lines.append(s)
    return lines


# --------------------------------------------------------------------------------------------


def build(seed: int = SEED) -> dict[str, str]:
    """Every file as {relative path: text}; one RNG, consumed in a fixed order."""
    rng = random.Random(seed)
    files: dict[str, str] = {}
    seen: set[str] = set()
    for name, splits in [
        ("sentiment", make_sentiment(rng, seen)),
        ("paraphrase", make_paraphrase(rng, set())),
    ]:
        for split, rows in splits.items():
            files[f"{name}/{split}.jsonl"] = "".join(json.dumps(r) + "\n" for r in rows)
    files["corpus/tiny_stories.txt"] = "\n".join(make_corpus(rng)) + "\n"
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--check", action="store_true", help="compare with the files, write nothing")
    args = ap.parse_args()
    files = build(args.seed)
    if args.check:
        bad = [
            p
            for p, t in files.items()
            if not (args.out / p).exists() or (args.out / p).read_text(encoding="utf-8") != t
        ]
        print("up to date" if not bad else f"differs: {bad}")
        raise SystemExit(1 if bad else 0)
    for rel, text in files.items():
        path = args.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(args.out)}  ({text.count(chr(10))} lines)")


if __name__ == "__main__":
    main()
