"""The lessons in order: for each, its explanation (with {placeholders} for the numbers its run
measures), its experiment, what to try next, a question to check yourself, and the tab to go further in."""

import string
from collections.abc import Callable
from dataclasses import dataclass

from charlm.errors import CharlmError
from charlm.lessons import experiments
from charlm.lessons.experiments import Result


@dataclass(frozen=True)
class Lesson:
    title: str
    text: str  # Markdown; {name} is filled from the run's numbers
    experiment: Callable[..., Result]
    try_this: tuple[str, ...]
    question: str
    answer: str
    tab: str  # the playground tab (its id) where the lesson's model can be taken further
    before: str = "Click **Run the experiment** to fill in this lesson's numbers from a live run."


LESSONS = [
    Lesson(
        "1. Counting",
        """The simplest language model counts. Take every name in a list, put a boundary mark • before
and after it, and count how often each character follows each other one: **{pairs}** pairs in the
training names. Divide each row of counts by its total and you have, for every character, the
probability of each character that can come next. That table is the whole model.

The probability of a name is the product of its steps. For **{name}**: {steps} = **{probability}**.
Its negative log is **{nll}** nats, **{per_char}** per character: the loss. On names the table has never
seen, the average is **{val_loss}** nats per character; every other model in this playground has to beat it.

**{unseen}** pairs never occur in the training names, so counting alone gives them probability 0, and
one such pair in a new name makes its probability 0 and its loss infinite. *Smoothing* adds 1 to every
count first: the pair **{unseen_pair}** gets {unseen_smoothed} instead of 0.""",
        experiments.counting,
        (
            "Open the *Bigram table* tab with this text and switch to probabilities: which row is the most certain?",
            "Set smoothing to 0 in the *Train* tab (count bigram) and train: what happens to the validation loss?",
        ),
        "Why is the loss measured as a negative log rather than as the probability itself?",
        "Probabilities of long texts are tiny products; logs turn the product into a sum, so the loss of a text "
        "is the sum of its characters' losses and can be averaged per character.",
        "bigram",
    ),
    Lesson(
        "2. The same, learned",
        """Now the same table as numbers a network learns: a **neural bigram** holds one row of scores (logits)
per character, turns a row into probabilities with softmax, and is nudged by gradient descent to make the
next character more likely. Nobody tells it the counts.

It started at **{start}** nats (every character equally likely) and after **{steps}** steps reached
**{learned}** nats on the held-out names, against **{counted}** for the counted table: a gap of
**{gap}**. Gradient descent found (almost) the same table; the chart beside the curve shows the two side by side.""",
        experiments.learned,
        (
            "Train the neural bigram with learning rate 0.01 instead of 0.1: how many steps until it reaches the count bigram?",
            "Compare the two tables in the *Bigram table* tab: where do they differ most, and why there?",
        ),
        "Why can the neural bigram never beat the count bigram on the training text?",
        "The counted table is the maximum-likelihood answer for one character of context: no other table gives "
        "the training pairs a higher probability. The network can only approach it.",
        "bigram",
    ),
    Lesson(
        "3. Gradients",
        """How does gradient descent know which way to move each number? Every calculation is a graph of small
steps (multiply, add, tanh, log...), and each step knows its *local derivative*. Going backwards through the
graph and multiplying those local derivatives (the chain rule) gives every input's gradient: backpropagation.

Below is one prediction of a tiny MLP, every number a scalar *Value*: **{nodes}** nodes (the most common:
{ops}), loss **{loss}**. Hover a node to see its local rule. Under it, the hand-written NumPy gradients of
{weights} weight matrices against PyTorch's autograd: the largest difference is **{worst}**, rounding error.""",
        experiments.gradients,
        (
            "In the *From scratch* tab, make the graph's model a little bigger: how fast does the node count grow?",
            "Run the gradient check with another seed: do the differences stay this small?",
        ),
        "Why does a weight used in several places of the graph get the *sum* of the gradients from each use?",
        "Its small change moves every place that uses it; the loss changes by the sum of those effects, so the "
        "chain rule adds the contributions.",
        "scratch",
    ),
    Lesson(
        "4. Context",
        """One character is not much context. The **MLP** reads the last **{context}** characters, turns each into a
short vector (its *embedding*) and passes them together through a hidden layer. It reaches **{val}** nats
on the held-out names, against **{bigram}** for the bigram table.

The embeddings start random. The first chart shows them in 2-D at {frames} moments of training: press play
and watch characters that behave alike (the vowels, say) drift together. Nobody told the model what a vowel is.""",
        experiments.context,
        (
            "Train the MLP in the *Train* tab with context 1: how close does it get to the bigram?",
            "Open *Look inside* → Embeddings on your own model: which characters end up next to each other?",
        ),
        "Why do characters that can be swapped in many names end up close together?",
        "Close vectors give the hidden layer nearly the same input, hence nearly the same prediction; characters "
        "followed by the same things are cheapest to represent that way.",
        "inside",
    ),
    Lesson(
        "5. Memory",
        """A fixed window forgets everything before it. A recurrent network reads one character at a time and carries
a *hidden state* forward; the **LSTM** adds a memory cell and gates that decide what to keep. Trained on the
verses it reaches **{val}** nats.

Its {units} units were never told what to track, yet some track things we can name. The unit that best follows
*{feature}* is unit **{unit}** of the {layer} (correlation {correlation}): the text below is coloured by it.""",
        experiments.memory,
        (
            "In *Look inside* → Neurons, pick the feature 'in quotes or brackets': is there a unit for it?",
            "Train the LSTM with a context of 8 instead of 64: does the unit still appear?",
        ),
        "Why can an LSTM track something (like an open bracket) over more characters than its training window?",
        "The state is carried from step to step with no fixed limit; the window only limits how far back "
        "gradients flow while training, not how far the state can carry information.",
        "inside",
    ),
    Lesson(
        "6. Attention",
        """A **transformer** lets every character look back at all the earlier ones at once and decide which matter:
attention. Each of its {layers} layers has {heads} heads, each with its own way of looking. Trained on the
names, it reaches **{val}** nats.

The heatmap shows one head on the name **{name}**: each row is a character, its colours where it looks. In
layer {layer}, head {head}, the last character puts **{peak}** of its attention on a single earlier position.""",
        experiments.attention,
        (
            "In *Look inside* → Attention, type a long name: do the heads look at the start, the previous character, or vowels?",
            "Train a transformer with one head instead of four: how much worse is it?",
        ),
        "Why may a character attend only to earlier characters, never later ones?",
        "The model is trained to predict the next character; if it could see it, it would learn to copy "
        "instead of predict. The causal mask hides the future.",
        "inside",
    ),
    Lesson(
        "7. Measuring",
        """A loss of L nats per character is L / ln 2 bits per character, and *perplexity* e^L: as unsure as a fair
choice among that many characters. Always measure it on text the model did not train on.

A {big_params}-parameter MLP on {train_chars} training characters: its validation loss was best at step
{best_step} (**{best}**) and ended at **{final}**, while its training loss fell to **{train}**: it memorised
the names instead of learning them (overfitting). A {small_params}-parameter MLP with dropout ends at
**{cured}** nats = {bits} bits per character, perplexity {perplexity}.""",
        experiments.measuring,
        (
            "Tick keep-best (or stop at the best step) in the *Train* tab: which weights does it keep?",
            "Give the big model dropout 0.3: does the gap between training and validation loss close?",
        ),
        "Why does the training loss keep falling while the validation loss rises?",
        "The model fits the particular training names more and more exactly, including their accidents, "
        "which does not carry over to new names.",
        "train",
    ),
    Lesson(
        "8. Sampling",
        """A model gives a distribution over the next character; sampling draws from it. At the start of a name the
most likely character is **{top_char}** with probability {p1}. *Temperature* divides the scores first: at 0.5
that character's probability becomes {p_cold}, at 1.5 it falls to {p_hot}. *Top-k* keeps the k most likely
characters; *top-p* keeps the most likely ones up to that much probability.

Samples at temperature 0.5: {cold}. At 1: {warm}. At 1.5: {hot}.""",
        experiments.sampling,
        (
            "In the *Sample* tab, set temperature 0: why are all samples the same?",
            "Set top-k 1 and temperature 1: what does it do, and why?",
        ),
        "What does temperature 1 with no top-k or top-p sample from?",
        "The model's own distribution, unchanged: the one whose loss was measured.",
        "sample",
    ),
    Lesson(
        "9. The ladder",
        """Every rung of the ladder on the same {text_chars} characters of names, one after another, each
with settings chosen for the text and its share of the time, keeping its best weights; validation loss
against seconds (the fair axis: the rungs run at very different speeds):

| model | parameters | steps | validation loss |
| --- | --- | --- | --- |
{table}

The best here is the **{best}** at **{best_val}** nats, **{gain}** below the count bigram's {bigram}:
what reading more context, carrying memory and attending bought on this text. A longer text and more
time buy more.""",
        experiments.ladder,
        (
            "Train the ladder in the *Train* tab on a text of your own: does the order stay the same?",
            "Give the ladder twice the time: which rung gains the most?",
        ),
        "Why compare against seconds rather than steps?",
        "A transformer's step costs far more than a bigram's; per step it would look better than it is "
        "for the same computer time.",
        "train",
    ),
]


def fill(lesson: Lesson, numbers: dict[str, str]) -> str:
    """The lesson's text with its numbers filled in; a number the text names but the run did not
    measure is an error, so a text can never show a placeholder."""
    names = {name for _, name, _, _ in string.Formatter().parse(lesson.text) if name}
    missing = names - set(numbers)
    if missing:
        raise CharlmError(f"lesson {lesson.title!r} quotes {sorted(missing)}, which its run did not measure.")
    return lesson.text.format(**numbers)


def run_lesson(index: int, scale: float = 1.0) -> tuple[str, Result]:
    """Run lesson `index` (0-based) and return its filled-in text and its result."""
    if not 0 <= index < len(LESSONS):
        raise CharlmError(f"there is no lesson {index + 1}; the lessons are 1 to {len(LESSONS)}.")
    lesson = LESSONS[index]
    result = lesson.experiment(scale)
    return fill(lesson, result.numbers), result
