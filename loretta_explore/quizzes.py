"""The lessons' recap quizzes: three to five questions per lesson, each option with its reason.

:func:`loretta_explore.widgets.quiz` shows a quiz as radio buttons that are checked on the spot.
Every number a question quotes is computed by the kit (tests/test_quizzes.py recomputes each one
with ``count_trainable``, ``tt_params``, the layers), so a change to the kit that changes a
number fails a test instead of leaving a wrong answer in a lesson.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["QUIZZES", "Question", "Quiz", "get_quiz"]


@dataclass(frozen=True)
class Question:
    """One multiple-choice question.

    options : (text, one-line reason) pairs; the reason is shown when that option is chosen.
    answer : index of the right option.
    """

    prompt: str
    options: tuple[tuple[str, str], ...]
    answer: int

    def __post_init__(self):
        if not 0 <= self.answer < len(self.options) or len(self.options) < 2:
            raise ValueError(
                f"answer {self.answer} is not one of the {len(self.options)} options of "
                f"{self.prompt!r}"
            )

    @property
    def right(self) -> str:
        return self.options[self.answer][0]


@dataclass(frozen=True)
class Quiz:
    """A lesson's recap: its id ("01"), title and questions."""

    lesson: str
    title: str
    questions: tuple[Question, ...]


def _q(prompt: str, answer: int, *options: tuple[str, str]) -> Question:
    return Question(prompt, tuple(options), answer)


QUIZZES: dict[str, Quiz] = {
    q.lesson: q
    for q in (
        Quiz(
            "00",
            "Quickstart",
            (
                _q(
                    "How many numbers does LoRETTA_rep train on LLaMA-2-7B with the paper's settings?",
                    0,
                    (
                        "507,904 (the paper prints 0.51M)",
                        "TT cores on q_proj and v_proj of 32 layers "
                        "plus the RMSNorm weights, counted from the config.",
                    ),
                    ("4,194,304", "That is LoRA with r = 8 on the same two projections, 8x more."),
                    ("6,738,415,616", "That is every weight of the model: full fine-tuning."),
                ),
                _q(
                    "What does init='compensated' do?",
                    1,
                    (
                        "Starts A and B at zero",
                        "A zero start is init='zero' (B's last core is zero).",
                    ),
                    (
                        "Subtracts a frozen copy of the initial update, so the model starts exactly as the "
                        "pretrained one",
                        "The Gaussian cores stay, and s B0(A0(x)) is subtracted.",
                    ),
                    (
                        "Scales the update by alpha / bottleneck",
                        "That scale s applies with every init.",
                    ),
                ),
                _q(
                    "What does model.save_pretrained(folder) write for a LoRETTA model?",
                    2,
                    (
                        "The whole model, about 90 MB",
                        "The frozen weights are the base model's; only what was trained is saved.",
                    ),
                    ("Only a JSON config", "The trained numbers are saved too, as safetensors."),
                    (
                        "The trained numbers (and, for the compensated start, the frozen starting cores) plus "
                        "a JSON config",
                        "A small file; section 5 prints its size.",
                    ),
                ),
            ),
        ),
        Quiz(
            "01",
            "Tensor-train basics",
            (
                _q(
                    "A tensor of shape (8, 8, 8, 8) as a train with ranks [1, 4, 4, 4, 1]: how many numbers?",
                    1,
                    ("4,096", "That is the dense tensor: 8^4 entries."),
                    ("320", "1*8*4 + 4*8*4 + 4*8*4 + 4*8*1 = 32 + 128 + 128 + 32."),
                    ("128", "That is one middle core (4*8*4); there are four cores."),
                ),
                _q(
                    "TT-SVD keeps r singular values at every bond. What bounds the error ||X - X_TT||?",
                    0,
                    (
                        "The root of the sum of all discarded squared singular values",
                        "Each cut adds "
                        "its discarded energy, and the errors of the cuts add up in squares.",
                    ),
                    (
                        "The largest singular value kept",
                        "The kept values are reproduced exactly; the error "
                        "comes from what is thrown away.",
                    ),
                    (
                        "The rank times the smallest singular value",
                        "The bound is the norm of everything discarded, at every bond.",
                    ),
                ),
                _q(
                    "The TT rank at bond k can never exceed ...",
                    2,
                    (
                        "the smallest mode size",
                        "A bond between two modes of size 8 can have rank 64 when "
                        "the modes on both sides multiply to 64 or more.",
                    ),
                    ("the number of cores, d - 1", "D - 1 is the number of bonds, not their size."),
                    (
                        "the matrix rank of the unfolding X_<k> (rows k_1...k_k, columns the rest)",
                        ""
                        "Oseledets 2011, Thm 2.1; so the unfoldings' spectra tell in advance which ranks are cheap.",
                    ),
                ),
                _q(
                    "Why does torch.randn(8, 8, 8, 8) need almost full rank for a small error?",
                    1,
                    (
                        "TT-SVD does not work on random tensors",
                        "It works; it just finds nothing to drop.",
                    ),
                    (
                        "Its unfolding spectra are flat: every singular value carries about the same energy",
                        "Cutting any of them loses as much as cutting any other.",
                    ),
                    (
                        "Random tensors have too many modes",
                        "The same holds for any number of modes.",
                    ),
                ),
            ),
        ),
        Quiz(
            "02",
            "Tensorizing weights",
            (
                _q(
                    "W (384 x 1536) is folded row-major into (12, 8, 8, 8, 8, 12). Where does the input index end?",
                    0,
                    (
                        "Inside the third mode, which holds 4 input x 2 output values",
                        "12 * 8 = 96 and "
                        "384 / 96 = 4, so the third mode mixes the last input and the first output digits.",
                    ),
                    ("After the third mode", "12 * 8 * 8 = 768 is more than 384."),
                    (
                        "Always exactly in the middle",
                        "Only the TT-matrix layout splits inputs and outputs on a mode boundary.",
                    ),
                ),
                _q(
                    "What does a core of the TT-matrix layout look like?",
                    1,
                    (
                        "(r_{k-1}, m_k * n_k) with no rank on the right",
                        "Every inner core has two bonds.",
                    ),
                    (
                        "(r_{k-1}, m_k, n_k, r_k): one input leg and one output leg",
                        "In = prod m_k and "
                        "out = prod n_k are factored separately (Novikov et al. 2015).",
                    ),
                    (
                        "(m_k, n_k): a small matrix per mode",
                        "That would be a Kronecker product, rank 1.",
                    ),
                ),
                _q(
                    "Why does the suggested shape put the two largest factors at the ends?",
                    2,
                    (
                        "To keep the input and the output apart",
                        "The flattened layout mixes them anyway.",
                    ),
                    ("Because TT-SVD needs sorted modes", "TT-SVD works for any order."),
                    (
                        "An end core costs r * k, a middle core r * k * r",
                        "A large factor is cheapest where only one bond touches it.",
                    ),
                ),
                _q(
                    "Why does LoRETTA keep the pretrained weights frozen and dense?",
                    0,
                    (
                        "They are not low rank: a small train of them changes the model's output a lot",
                        "Section 6 showed it; LoRETTA trains small TT pieces beside the weights instead.",
                    ),
                    (
                        "TT layers cannot be trained",
                        "The TT cores are exactly what LoRETTA trains.",
                    ),
                    (
                        "Dense weights are faster to fine-tune",
                        "The weights are frozen, not fine-tuned.",
                    ),
                ),
            ),
        ),
        Quiz(
            "03",
            "Rank selection",
            (
                _q(
                    "What does lx.tt_svd(x, max_rank=0.05) ask for?",
                    1,
                    ("A relative error of at most 5%", "That is rel_error=0.05."),
                    (
                        "The largest uniform rank whose train costs at most 5% of the dense parameters",
                        "A float max_rank is a budget, tensorly's convention.",
                    ),
                    (
                        "Keep 5% of the singular values at every bond",
                        "The budget counts parameters, not singular values.",
                    ),
                ),
                _q(
                    "With lx.tt_svd(x, rel_error=0.5), can the bonds end up with different ranks?",
                    0,
                    (
                        "Yes: each bond keeps as few values as the error allows",
                        "A budget or max_rank caps every bond the same; an error target does not.",
                    ),
                    (
                        "Every bond gets the same rank",
                        "That holds for max_rank, not for rel_error.",
                    ),
                    ("Only if the tensor is random", "It depends on each unfolding's spectrum."),
                ),
                _q(
                    "Doubling the rank multiplies the numbers in a middle core by ...",
                    2,
                    ("2", "That holds for an end core (r * k)."),
                    ("8", "A core has two bonds, not three."),
                    ("4", "A middle core holds r * k * r numbers."),
                ),
                _q(
                    "Which is easier to compress with a tensor train?",
                    1,
                    (
                        "A pretrained weight W0",
                        "Pretrained weights are nearly as hard to compress as noise.",
                    ),
                    (
                        "The update dW = W1 - W0 that fine-tuning makes",
                        "Fine-tuning updates have a low "
                        "intrinsic rank (Hu et al. 2022), which is why LoRA and LoRETTA learn a structured update.",
                    ),
                    ("A random Gaussian matrix", "Its spectrum is flat, the hardest case."),
                ),
            ),
        ),
        Quiz(
            "04",
            "The parameter budget",
            (
                _q(
                    "Of LoRETTA_rep's 507,904 numbers on LLaMA-2-7B, how many are RMSNorm weights?",
                    1,
                    (
                        "None: rep trains only TT cores",
                        "The paper trains every norm too (train_norms).",
                    ),
                    (
                        "266,240, more than half",
                        "32 layers x 2 x 4,096 + 4,096; the TT cores are 241,664.",
                    ),
                    ("4,096", "That is only the final norm."),
                ),
                _q(
                    "Doubling tt_rank from 8 to 16 multiplies LoRETTA_rep's TT cores on LLaMA-2-7B by about ...",
                    2,
                    ("2", "That is LoRA when r doubles: it is linear in its rank."),
                    ("8", "No core has three bonds."),
                    ("3.9 (241,664 -> 942,080)", "Middle cores grow as r^2, the end cores as r."),
                ),
                _q(
                    "How many bytes does AdamW need per trainable number in fp32 (weight, gradient, two moments)?",
                    0,
                    ("16", "4 + 4 + 4 + 4 bytes."),
                    ("4", "That is the weight alone."),
                    ("8", "That is the weight and its gradient, without AdamW's two moments."),
                ),
                _q(
                    "The paper's 57.4x on LLaMA-2-7B is which ratio?",
                    2,
                    ("LoRA / LoRETTA_rep", "4,194,304 / 507,904 is 8.3x."),
                    ("Full fine-tuning / LoRETTA_adp", "That is about 7,700x."),
                    ("Adapters / LoRETTA_adp (50.33M / 0.88M)", "50,331,648 / 876,800 = 57.4."),
                ),
            ),
        ),
        Quiz(
            "05",
            "LoRETTA_adp",
            (
                _q(
                    "Where does LoRETTA_adp put adapters in a BERT-style layer?",
                    0,
                    (
                        "After the attention-output and the feed-forward-output projections (their dropout), "
                        "before the residual LayerNorm",
                        "Houlsby's placement, two per layer.",
                    ),
                    (
                        "On the query and value projections",
                        "That is where LoRETTA_rep puts its update.",
                    ),
                    (
                        "One after every linear layer",
                        "Two per layer, at the ends of the two residual branches.",
                    ),
                ),
                _q(
                    "And in a LLaMA layer?",
                    1,
                    ("Two, after attention and after the MLP", "That is the BERT-style placement."),
                    (
                        "Three, all in the MLP: before gate_proj, before up_proj, after down_proj",
                        "None on attention.",
                    ),
                    ("None: LLaMA only gets rep", "The paper adapts LLaMA with both methods."),
                ),
                _q(
                    "A TT adapter at BERT-base size (768, b = 64, rank 5) holds how many numbers?",
                    2,
                    ("99,136", "That is a dense adapter of the same width, with biases."),
                    ("768", "That is only the up-projection's bias."),
                    ("2,392", "The two trains (down and up) plus the biases, about 41x fewer."),
                ),
                _q(
                    "Can a trained adapter be merged into the frozen weights like LoRA?",
                    1,
                    ("Yes, exactly", "Merging needs a linear update."),
                    (
                        "A non-linearity (ReLU) sits between down and up",
                        "So merge_and_unload raises a TypeError that says so.",
                    ),
                    ("Yes, approximately", "The kit never merges approximately."),
                ),
            ),
        ),
        Quiz(
            "06",
            "LoRETTA_rep",
            (
                _q(
                    "The update s B(A(x)) with A: 768 -> 8 and B: 8 -> 768 has matrix rank at most ...",
                    0,
                    (
                        "8, the bottleneck b",
                        "It is a (768 x 8) times (8 x 768) product; the example "
                        "in section 1 even has rank 5, set by a TT bond.",
                    ),
                    ("768", "Everything passes through b = 8 numbers."),
                    (
                        "5, the TT rank, always",
                        "The TT rank bounds it only where a bond sits at the split.",
                    ),
                ),
                _q(
                    "With alpha = 16 and bottleneck b = 8, the scale s = alpha / b is ...",
                    1,
                    (
                        "3.2",
                        "That is alpha / tt_rank = 16 / 5, an earlier reading (scale_by='tt_rank').",
                    ),
                    ("2", "LoRA's convention and the authors' code."),
                    ("16", "Alpha is divided by the bottleneck."),
                ),
                _q(
                    "Which start keeps the paper's Gaussian cores and still starts at the pretrained function?",
                    2,
                    ("paper", "Its update is non-zero at step 0."),
                    (
                        "zero",
                        "It starts at the pretrained function, but with B's last core at zero.",
                    ),
                    (
                        "compensated",
                        "It subtracts the frozen copy s B0(A0(x)) of the initial update.",
                    ),
                ),
                _q(
                    "Why can a rep update be merged into W exactly?",
                    0,
                    ("It is linear: W <- W0 + s A_W B_W", "And unmerge subtracts it again."),
                    (
                        "Because the TT cores are small",
                        "Size has nothing to do with it; linearity does.",
                    ),
                    (
                        "It cannot",
                        "It can: the merged model gives the same logits up to round-off.",
                    ),
                ),
            ),
        ),
        Quiz(
            "07",
            "Comparing methods",
            (
                _q(
                    "Why is a LoRETTA training step not much faster than full fine-tuning's?",
                    1,
                    (
                        "Tensor trains are slow to multiply",
                        "The TT layers are a small part of the work.",
                    ),
                    (
                        "The forward and backward passes still go through the whole frozen model",
                        "Fewer "
                        "trainable numbers shrink the gradients and optimizer state, not the passes.",
                    ),
                    (
                        "It is much faster",
                        "Not per step: the measured seconds per step differ by little.",
                    ),
                ),
                _q(
                    "The paper's points in the accuracy plot are ...",
                    2,
                    ("measured on the same task as your runs", "On GLUE, with another model."),
                    ("the kit's benchmark results", "Those are in benchmarks/compare_methods.md."),
                    (
                        "DeBERTa-base GLUE dev averages: another model and benchmark, for the shape of the "
                        "trade-off only",
                        "Compare directions, not values.",
                    ),
                ),
                _q(
                    "In the two-tasks test, forgetting shows as ...",
                    0,
                    (
                        "a drop in the first task's accuracy after training on the second",
                        "One model, one classifier, trained on the tasks in turn.",
                    ),
                    (
                        "a higher training loss on the second task",
                        "That is learning the second task.",
                    ),
                    ("a larger parameter count", "The count does not change."),
                ),
            ),
        ),
        Quiz(
            "08",
            "Scaling up",
            (
                _q(
                    "With LLaMA's weights in bf16, LoRETTA's TT cores are kept in ...",
                    1,
                    ("bf16 too", "They stay float32; each TT layer casts its input and output."),
                    ("float32", "The paper's recipe, and what the kit does."),
                    ("int8", "Nothing is quantized here."),
                ),
                _q(
                    "What does the meta device let you do with LLaMA-2-70B?",
                    2,
                    ("Train it on a laptop", "Meta tensors hold no data, nothing can be computed."),
                    ("Download it faster", "Nothing is downloaded at all."),
                    (
                        "Build its modules from the config, with shapes but no data, then place and count LoRETTA",
                        "In a second and without memory.",
                    ),
                ),
                _q(
                    "LoRETTA_rep trains 1,987,072 numbers on LLaMA-2-70B. Their AdamW training state in fp32 is about ...",
                    0,
                    ("32 MB", "16 bytes each (weight, gradient, two moments)."),
                    ("138 GB", "That is the frozen weights in bf16."),
                    (
                        "4 MB",
                        "That is the trained numbers alone in bf16 (2 bytes each), without gradients "
                        "and moments.",
                    ),
                ),
            ),
        ),
    )
}


def get_quiz(lesson: str) -> Quiz:
    """The quiz of a lesson ("01", 1 or "01_tensor_train_basics")."""
    key = f"{lesson:02d}" if isinstance(lesson, int) else str(lesson)[:2]
    if key not in QUIZZES:
        raise ValueError(
            f"no quiz for lesson {lesson!r}; quizzes: {', '.join(QUIZZES)}. Example: quiz('01')"
        )
    return QUIZZES[key]
