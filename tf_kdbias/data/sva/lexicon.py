"""The synthetic grammar's English lexicon: nouns and verbs in both numbers.

Regular forms are spelled by rule; irregular ones are listed. Words are
chosen to be unambiguous in number (no "sheep", "fish", "deer").
"""

from typing import Dict, Tuple

_REGULAR_NOUNS = """
actor agent architect artist athlete author baker banker builder captain chef
citizen client cousin customer dancer designer director doctor driver editor
engineer farmer friend guard guest hunter judge king knight lawyer leader manager
mechanic minister musician neighbor nurse officer painter parent pilot player poet
president prince professor reporter sailor scientist senator servant singer soldier
student surgeon teacher tourist visitor waiter writer brother sister uncle member
dog cat horse bird lion tiger monkey rabbit snake bear eagle whale shark donkey
book table chair key cabinet car house road bridge tower garden window door
computer machine phone picture painting letter report program plan project museum
school hospital village island river mountain forest field farm shop store market
office building station airport hotel restaurant kitchen room wall roof street park
lake ship boat train plane truck bike song movie game idea rule law problem question
answer decision committee team government group engine lamp bottle coat shoe
"""

_Y_NOUNS = "city country company story library family party factory policy theory army"
_ES_NOUNS = "box glass bus church dish fox witness boss coach"
_IRREGULAR_NOUNS = {"man": "men", "woman": "women", "child": "children", "mouse": "mice",
                    "goose": "geese", "wolf": "wolves", "knife": "knives", "leaf": "leaves",
                    "wife": "wives", "thief": "thieves", "shelf": "shelves", "person": "people"}

# Verbs used transitively (main clause with an object, relative clauses).
_TRANSITIVE_VERBS = """
like admire see know love hate help follow visit meet praise blame greet trust avoid
remember forget need want prefer describe criticize support attack protect chase push
pull annoy enjoy destroy employ build paint draw read own hold keep bring find take
make move call ask thank serve hire warn attract surprise confuse amuse inspire
guide lead join recognize invite ignore
"""
_TRANSITIVE_ES_VERBS = "watch fix wash reach teach miss kiss pass touch impress"
_TRANSITIVE_Y_VERBS = "carry study worry"
# Verbs used without an object (then an adverb, a PP or nothing).
_INTRANSITIVE_VERBS = """
sleep run swim smile laugh arrive wait work live exist appear remain vanish sing
dance travel complain disagree succeed fail shine
"""
_INTRANSITIVE_ES_VERBS = "rush relax"

ADJECTIVES = tuple("""
old young new small large big tall short happy angry famous quiet busy rich poor
strange clever brave lazy friendly proud nervous modern ancient red green bright dark
heavy empty
""".split())
ADVERBS = tuple("""
often rarely always never sometimes usually quickly slowly really certainly clearly
probably
""".split())
PREPOSITIONS = tuple("near behind beside with from above under for without like of".split())
# Open a fronted clause ("while the dogs sleep , ...").
SUBORDINATORS = ("when", "while", "because", "although", "if", "after", "before", "since")
# Sentence openings without nouns, so they never add intervening nouns.
OPENINGS = (("we", "know", "that"), ("they", "say", "that"), ("it", "seems", "that"),
            ("i", "think", "that"), ("everyone", "agrees", "that"))
OPENING_TAGS = {"we": "PRP", "they": "PRP", "it": "PRP", "i": "PRP", "everyone": "NN",
                "know": "VBP", "say": "VBP", "seems": "VBZ", "think": "VBP",
                "agrees": "VBZ", "that": "IN"}


def _y_plural(word: str) -> str:
    return word[:-1] + "ies"


def noun_forms() -> Dict[str, str]:
    """Singular -> plural for every noun of the lexicon."""
    forms = {w: w + "s" for w in _REGULAR_NOUNS.split()}
    forms.update({w: _y_plural(w) for w in _Y_NOUNS.split()})
    forms.update({w: w + "es" for w in _ES_NOUNS.split()})
    forms.update(_IRREGULAR_NOUNS)
    return forms


def _verb_pairs(regular: str, es: str, y: str = "") -> Tuple[Tuple[str, str], ...]:
    """(singular VBZ, plural VBP) pairs."""
    pairs = [(w + "s", w) for w in regular.split()]
    pairs += [(w + "es", w) for w in es.split()]
    pairs += [(_y_plural(w), w) for w in y.split()]
    return tuple(pairs)


TRANSITIVE_VERBS = _verb_pairs(_TRANSITIVE_VERBS, _TRANSITIVE_ES_VERBS, _TRANSITIVE_Y_VERBS)
INTRANSITIVE_VERBS = _verb_pairs(_INTRANSITIVE_VERBS, _INTRANSITIVE_ES_VERBS)
NOUNS = tuple(sorted(noun_forms().items()))
