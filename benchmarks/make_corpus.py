"""Generate a deterministic English-like corpus (about 1 MB) for the char-LM benchmark.

    python benchmarks/make_corpus.py [OUT] [--seed 0] [--size 1000000]

No download: the text comes from a small probabilistic grammar over a built-in lexicon of a few
hundred base words, inflected (plurals, -s/-ed/-ing verb forms, irregular pasts, -ly adverbs,
comparatives), with Zipf-like word frequencies. Stories are chapters of paragraphs; paragraphs
keep a cast of characters and a few topic nouns, mix narration (past tense) with quoted dialogue
(present tense, questions, exclamations, "said Anna."), so a character model has spelling,
morphology, agreement, punctuation, quote balancing and paragraph layout to learn.
The same seed always gives the same bytes (pure Python `random.Random`, no hashing of sets).
"""
import argparse
import os
import random

NOUNS = """time year people way day man thing woman life child world school state family
student group country problem hand part place case week company system program question work
government number night point home water room mother area money story fact month lot right
study book eye job word business issue side kind head house service friend father power hour
game line end member law car city community name president team minute idea kid body
information back parent face others level office door health person art war history party
result change morning reason research girl guy moment air teacher force education foot boy age
policy music market sense nation plan college interest death experience effect class control
care field development role effort rate heart drug show leader light voice wife police mind
price report decision son view relationship town road arm difference value building action
model season society tax director position player record paper space ground form event
official matter center couple site project activity star table need court oil situation cost
industry figure street image phone data picture practice piece land product doctor wall
patient worker news test movie north love support technology step baby computer type attention
film tree source organization hair window evidence population river garden horse bird letter
ship island forest bridge village king queen stone fire candle mountain lamp boat sea wind
storm shadow key coat basket apple bread cup clock bell""".split()

IRREGULAR_PLURALS = {"man": "men", "woman": "women", "child": "children", "foot": "feet",
                     "person": "people", "mouse": "mice", "life": "lives", "wife": "wives",
                     "knife": "knives", "leaf": "leaves", "shelf": "shelves", "people": "people",
                     "others": "others", "police": "police", "news": "news", "data": "data",
                     "information": "information", "evidence": "evidence", "health": "health",
                     "education": "education", "music": "music", "research": "research",
                     "air": "air", "water": "water", "money": "money", "oil": "oil",
                     "bread": "bread", "love": "love", "art": "art", "history": "history"}

# verb: (past, past participle) for irregular verbs; regular ones are listed plain.
IRREGULAR_VERBS = {"be": ("was", "been"), "have": ("had", "had"), "do": ("did", "done"),
                   "say": ("said", "said"), "go": ("went", "gone"), "get": ("got", "got"),
                   "make": ("made", "made"), "know": ("knew", "known"), "think": ("thought", "thought"),
                   "take": ("took", "taken"), "see": ("saw", "seen"), "come": ("came", "come"),
                   "find": ("found", "found"), "give": ("gave", "given"), "tell": ("told", "told"),
                   "feel": ("felt", "felt"), "leave": ("left", "left"), "bring": ("brought", "brought"),
                   "begin": ("began", "begun"), "keep": ("kept", "kept"), "hold": ("held", "held"),
                   "write": ("wrote", "written"), "stand": ("stood", "stood"), "hear": ("heard", "heard"),
                   "let": ("let", "let"), "meet": ("met", "met"), "run": ("ran", "run"),
                   "sit": ("sat", "sat"), "speak": ("spoke", "spoken"), "lie": ("lay", "lain"),
                   "lead": ("led", "led"), "grow": ("grew", "grown"), "lose": ("lost", "lost"),
                   "fall": ("fell", "fallen"), "send": ("sent", "sent"), "build": ("built", "built"),
                   "understand": ("understood", "understood"), "draw": ("drew", "drawn"),
                   "break": ("broke", "broken"), "spend": ("spent", "spent"), "cut": ("cut", "cut"),
                   "rise": ("rose", "risen"), "drive": ("drove", "driven"), "buy": ("bought", "bought"),
                   "wear": ("wore", "worn"), "choose": ("chose", "chosen"), "seek": ("sought", "sought"),
                   "throw": ("threw", "thrown"), "catch": ("caught", "caught"), "teach": ("taught", "taught"),
                   "eat": ("ate", "eaten"), "sing": ("sang", "sung"), "swim": ("swam", "swum"),
                   "fly": ("flew", "flown"), "sleep": ("slept", "slept"), "forget": ("forgot", "forgotten"),
                   "hide": ("hid", "hidden"), "ride": ("rode", "ridden"), "shake": ("shook", "shaken"),
                   "steal": ("stole", "stolen"), "wake": ("woke", "woken"), "win": ("won", "won")}
REGULAR_VERBS = """want use work call try ask need seem help show play move live believe happen
provide include continue change lead watch follow stop create open walk offer remember love
consider appear wait serve die expect stay reach kill remain suggest raise pass report decide
pull return explain hope carry develop describe agree receive travel close cover fill finish
answer laugh smile whisper shout listen dance paint cook clean count visit study worry hurry
marry carry cry reply copy plan stop drop shop beg hug nod jump climb push kick pick kiss
touch reach wash fix mix rest search wonder notice learn burn turn return""".split()
TRANSITIVE = """want use call ask need show play move believe provide include change watch follow
create open offer remember love consider serve expect reach raise pass report pull explain carry
describe receive cover fill finish answer paint cook clean count visit study marry copy drop
hug kick pick kiss touch wash fix mix search notice learn burn turn have do make know take see
find give tell bring keep hold write hear meet lead lose send build understand draw break spend
cut drive buy wear choose seek throw catch teach eat sing steal hide ride shake""".split()
INTRANSITIVE = """work try seem live happen continue walk appear wait die stay remain return
agree travel laugh smile whisper shout listen dance worry hurry cry reply nod jump climb rest
wonder go come run sit stand speak lie grow fall rise fly sleep swim sing wake win""".split()
SPEECH = "said asked replied whispered shouted answered cried called added muttered laughed".split()

ADJECTIVES = """good new first last long great little own other old right big high different
small large next early young important few public bad same able late hard real best better
sure free strong whole true clear full special easy cold warm dark bright quiet loud happy sad
green red white black blue golden silver gentle heavy light deep wide narrow strange simple
quick slow tired hungry brave clever wise kind cruel proud poor rich empty sharp soft sweet
bitter wild calm lonely ancient distant hidden broken wooden narrow""".split()
ADVERBS_EXTRA = "never always often soon again still already perhaps together suddenly".split()
# adjectives that make natural -ly adverbs (quietly, happily, gently, ...)
MANNER = """quick slow quiet loud happy sad gentle strange bright soft wild calm proud brave
clever wise kind cruel sweet bitter sharp warm cold strong clear easy heavy lonely careful
sudden eager patient polite angry""".split()
NAMES = """Anna Thomas Clara Peter Mary John Lucy Henry Alice George Emma William Rose James
Jack Margaret Edward Sophie Arthur Helen Oliver Grace Samuel Ruth Daniel Agnes Martin Nora
Walter Edith Frank Ivy Hugo Mabel Felix Iris Leo Hannah Victor Ada""".split()
PLACES = """Bramley Ashford Wexham Dunmore Kettering Hollow Marlow Greystone Thornbury Elmstead
Riverside Oakhurst Stonebridge Whitby Larkhill Fernwood Harrowgate Millbrook Penrose Coldwater""".split()
TIMES = ["in the morning", "at night", "that evening", "the next day", "after dinner",
         "before dawn", "at noon", "in the spring", "during the winter", "on Sunday",
         "on a Tuesday in March", "in the autumn of 1847", "at half past nine", "an hour later",
         "for three days", "by the end of the week", "at last", "once more", "in those days"]
PREPS = "in on under near behind beside across through into over toward from with without by".split()
CONJ_CLAUSE = ["because", "although", "when", "while", "before", "after", "until", "since", "if"]
NUMBERS = ["two", "three", "four", "five", "six", "seven", "ten", "twelve", "twenty", "a hundred"]
INTERJ = ["Oh", "Well", "No", "Yes", "Look", "Listen", "Hush", "Dear me", "Good heavens", "Come"]


def zipf(items, s=1.0):
    """Items with cumulative Zipf weights, in list order (the lexicons are roughly by frequency)."""
    acc, cum = 0.0, []
    for r in range(len(items)):
        acc += 1.0 / (r + 1) ** s
        cum.append(acc)
    return list(items), cum


def plural(n):
    if n in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[n]
    if n.endswith(("s", "x", "z", "ch", "sh")):
        return n + "es"
    if n.endswith("y") and n[-2] not in "aeiou":
        return n[:-1] + "ies"
    return n + "s"


def _double(v):
    """Consonant doubling for short CVC verbs: stop -> stopp(ed), plan -> plann(ing)."""
    return (len(v) <= 4 and v[-1] not in "aeiouwxy" and v[-2] in "aeiou" and v[-3] not in "aeiou"
            and v not in ("visit", "open", "answer", "offer"))


def third(v):
    if v == "be":
        return "is"
    if v == "have":
        return "has"
    if v in ("do", "go"):
        return v + "es"
    if v.endswith(("s", "x", "z", "ch", "sh")):
        return v + "es"
    if v.endswith("y") and v[-2] not in "aeiou":
        return v[:-1] + "ies"
    return v + "s"


def past(v):
    if v in IRREGULAR_VERBS:
        return IRREGULAR_VERBS[v][0]
    if v.endswith("e"):
        return v + "d"
    if v.endswith("y") and v[-2] not in "aeiou":
        return v[:-1] + "ied"
    if _double(v):
        return v + v[-1] + "ed"
    return v + "ed"


def gerund(v):
    if v == "be":
        return "being"
    if v.endswith("ie"):
        return v[:-2] + "ying"
    if v.endswith("e") and not v.endswith(("ee", "ye", "oe")):
        return v[:-1] + "ing"
    if _double(v):
        return v + v[-1] + "ing"
    return v + "ing"


def adverb(a):
    if a.endswith("le"):
        return a[:-1] + "y"
    if a.endswith("y"):
        return a[:-1] + "ily"
    if a.endswith("ic"):
        return a + "ally"
    return a + "ly"


def comparative(a):
    irregular = {"good": "better", "bad": "worse", "little": "smaller", "far": "farther"}
    if a in irregular:
        return irregular[a]
    if len(a) > 6:
        return "more " + a
    if a.endswith("e"):
        return a + "r"
    if a.endswith("y") and a[-2] not in "aeiou":
        return a[:-1] + "ier"
    if _double(a):
        return a + a[-1] + "er"
    return a + "er"


def article(word):
    return "an" if word[0] in "aeiou" else "a"


class Writer:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.nouns = zipf(NOUNS, 0.9)
        self.tverbs = zipf(TRANSITIVE, 0.8)
        self.iverbs = zipf(INTRANSITIVE, 0.8)
        self.adjs = zipf(ADJECTIVES, 0.9)
        self.cast, self.topics = [], []

    def pick(self, lex):
        items, cum = lex
        return self.r.choices(items, cum_weights=cum)[0]

    def chance(self, p):
        return self.r.random() < p

    # ----- phrases ----------------------------------------------------------------------------
    def noun(self):
        if self.topics and self.chance(0.45):
            return self.r.choice(self.topics)
        return self.pick(self.nouns)

    def np(self, allow_name=True):
        """(text, is_plural)."""
        if allow_name and self.cast and self.chance(0.3):
            return self.r.choice(self.cast), False
        n = self.noun()
        pl = self.chance(0.3) and n not in IRREGULAR_PLURALS or IRREGULAR_PLURALS.get(n) == n
        word = plural(n) if pl else n
        adj = ""
        if self.chance(0.35):
            a = self.pick(self.adjs)
            adj = (a + " ") if self.chance(0.85) else f"{self.pick(self.adjs)}, {a} "
        roll = self.r.random()
        if roll < 0.45:
            det = "the"
        elif roll < 0.6 and not pl:
            det = article(adj or word)
        elif roll < 0.7:
            det = self.r.choice(["his", "her", "their", "our", "my"])
        elif roll < 0.78 and pl:
            det = self.r.choice(NUMBERS + ["some", "many", "few", "all the"])
        elif roll < 0.86:
            det = (self.r.choice(self.cast) + "'s") if self.cast else "the"
        else:
            det = "this" if not pl else "these"
        return f"{det} {adj}{word}", pl

    def pp(self):
        if self.chance(0.15):
            return f"{self.r.choice(['in', 'near', 'to', 'from'])} {self.r.choice(PLACES)}"
        return f"{self.r.choice(PREPS)} {self.np(allow_name=False)[0]}"

    def pronoun_subject(self, name):
        return self.r.choice(["he", "she"]) if name else "they"

    def vp(self, tense, subj_plural, person=3):
        """A verb phrase agreeing with the subject. tense: past | present | progressive."""
        transitive = self.chance(0.6)
        v = self.pick(self.tverbs if transitive else self.iverbs)
        if tense == "past":
            verb = past(v)
            if self.chance(0.08):
                verb = ("had " + IRREGULAR_VERBS.get(v, (None, past(v)))[1])
        elif tense == "progressive":
            aux = ("were" if subj_plural or person == 2 else "was")
            verb = f"{aux} {gerund(v)}"
        else:
            if person == 1:
                verb = "am" if v == "be" else v
            elif subj_plural or person == 2:
                verb = "are" if v == "be" else v
            else:
                verb = third(v)
            if self.chance(0.12):
                verb = self.r.choice(["will ", "must ", "can ", "should ", "cannot "]) + v
            elif self.chance(0.08):
                verb = ("don't " if subj_plural or person < 3 else "doesn't ") + v
        parts = [verb]
        if transitive:
            parts.append(self.np()[0])
        if self.chance(0.25):
            parts.insert(0 if self.chance(0.3) else len(parts),
                         adverb(self.r.choice(MANNER)) if self.chance(0.6) else self.r.choice(ADVERBS_EXTRA))
        if self.chance(0.4):
            parts.append(self.pp())
        return " ".join(parts)

    def clause(self, tense):
        if tense == "present" and self.chance(0.35):
            subj, pl, person = self.r.choice([("I", False, 1), ("you", False, 2), ("we", True, 2)])
        else:
            subj, pl = self.np()
            person = 3
            if self.cast and subj in self.cast and self.chance(0.3):
                subj = self.pronoun_subject(True)
        return f"{subj} {self.vp(tense, pl, person)}"

    # ----- sentences --------------------------------------------------------------------------
    def narration(self):
        r = self.r.random()
        if r < 0.35:
            s = self.clause("past")
        elif r < 0.5:
            s = f"{self.clause('past')}, and {self.clause('past')}"
        elif r < 0.62:
            s = f"{self.r.choice(CONJ_CLAUSE)} {self.clause('past')}, {self.clause('past')}"
        elif r < 0.72:
            s = f"{self.r.choice(TIMES)}, {self.clause(self.r.choice(['past', 'progressive']))}"
        elif r < 0.8:
            s = f"{self.clause('past')}, but {self.clause('past')}"
        elif r < 0.88:
            n, pl = self.np(allow_name=False)
            s = (f"{n} {'were' if pl else 'was'} {self.r.choice(['very ', 'so ', '', 'far ', ''])}"
                 f"{comparative(self.pick(self.adjs)) + ' than ever' if self.chance(0.3) else self.pick(self.adjs)}")
        elif r < 0.94:
            n, pl = self.np(allow_name=False)
            s = f"there {'were' if pl else 'was'} {n} {self.pp()}"
        else:
            s = f"{self.clause('past')}; {self.clause('past')}"
        return s[0].upper() + s[1:] + self.r.choice([".", ".", ".", ".", "!"] if len(s) < 60 else ["."])

    def spoken(self):
        r = self.r.random()
        if r < 0.45:
            s, end = self.clause("present"), "."
        elif r < 0.65:
            aux = self.r.choice(["do you", "can we", "will they", "did she", "does he", "shall I"])
            v = self.pick(self.tverbs)
            s, end = f"{self.r.choice(['where', 'why', 'how', 'when', ''])} {aux} {v} {self.np()[0]}".strip(), "?"
        elif r < 0.75:
            s, end = f"{self.r.choice(INTERJ)}, {self.clause('present')}", "!"
        elif r < 0.85:
            s, end = f"{self.clause('present')}, {self.r.choice(['and', 'but', 'so'])} {self.clause('present')}", "."
        else:
            a = self.pick(self.adjs)
            s, end = f"what {article(a)} {a} {self.noun()}", "!"
        return s[0].upper() + s[1:], end

    def dialogue(self):
        name = self.r.choice(self.cast) if self.cast else self.r.choice(NAMES)
        verb = self.r.choice(SPEECH)
        s, end = self.spoken()
        tag_end = "," if end == "." else end
        r = self.r.random()
        if r < 0.4:
            line = f"\"{s}{tag_end}\" {verb} {name}."
        elif r < 0.6:
            line = f"\"{s}{tag_end}\" {name} {verb}{self.r.choice(['', ' ' + adverb(self.r.choice(MANNER))])}."
        elif r < 0.75:
            s2, end2 = self.spoken()
            line = f"\"{s}{tag_end}\" {verb} {name}. \"{s2}{end2}\""
        elif r < 0.85:
            line = f"{name} {verb}, \"{s}{end}\""
        else:
            line = f"\"{s}{end}\""
        return line

    def paragraph(self):
        self.topics = [self.pick(self.nouns) for _ in range(self.r.randint(1, 3))]
        if not self.cast or self.chance(0.2):
            self.cast = self.r.sample(NAMES, self.r.randint(1, 3))
        if self.chance(0.35):                      # a conversation: one line per paragraph
            return self.dialogue()
        n = self.r.randint(2, 7)
        sents = [self.dialogue() if self.chance(0.12) else self.narration() for _ in range(n)]
        return " ".join(sents)

    def text(self, size):
        out, total, chapter = [], 0, 0
        while total < size:
            chapter += 1
            title = f"{self.r.choice(['The', 'A'])} {self.pick(self.adjs).title()} {self.noun().title()}"
            head = f"CHAPTER {roman(chapter)}.\n{title}\n\n"
            out.append(head)
            total += len(head)
            for _ in range(self.r.randint(25, 70)):
                p = self.paragraph() + "\n\n"
                out.append(p)
                total += len(p)
                if total >= size:
                    break
        text = "".join(out)
        return text[:size].rsplit("\n\n", 1)[0] + "\n"


def roman(n):
    vals = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
            (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    s = ""
    for v, sym in vals:
        while n >= v:
            s, n = s + sym, n - v
    return s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default=os.path.join(os.path.dirname(__file__), "data", "corpus.txt"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=1_000_000, help="characters (ASCII, so bytes)")
    a = ap.parse_args(argv)
    text = Writer(a.seed).text(a.size)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"wrote {len(text)} characters, {len(set(text))} distinct, to {a.out}")


if __name__ == "__main__":
    main()
