"""Our glue, ending, backtrack and confirm phrases (written for this project).

One phrase per list item; a test checks no item holds two sentences run together by a missing
comma (the official script's bug merged neighbouring phrases into one). Every phrase fits every
task (Countdown, multiplication, letter countdown, acronym, ...): none names a target, numbers,
letters or words, which a test also checks.
"""

from __future__ import annotations

# after a sample whose reflection says Incorrect: try again
RETRY = [
    "That attempt does not work. Let me try a different approach.",
    "My answer is wrong, so I will start over with another idea.",
    "The check failed. I should look for another way to solve this.",
    "This is not right. Let me rethink the problem from the beginning.",
    "Since that answer is incorrect, I will try a different solution.",
    "I made a mistake there. Let me attempt the problem again.",
]

# after a sample whose reflection says Correct, when another sample follows: double-check
DOUBLE_CHECK = [
    "That looks right, but let me solve it once more to be sure.",
    "The answer checks out. I will confirm it with a second attempt.",
    "This seems correct. Let me double-check by working through it again.",
    "Good, that works. To be safe I will verify it with another attempt.",
]

# Without reflections (the no_reflection format, the no_reflections ablation) nothing states a verdict: the
# glue after every sample comes from this verdict-neutral pool only, as in the official script.
GENERIC = [
    "Let me work through the problem once more.",
    "I will make another attempt at this.",
    "Let me solve it again from the start.",
    "Here is another way to approach the problem.",
    "I will go through the problem again.",
]

# before the final <answer>
ENDING = [
    "So the final answer is:",
    "Putting it all together, my answer is:",
    "After checking my work, I am confident in this answer:",
    "Therefore, the answer is:",
    "My final answer:",
]

# *C*IC: after the last (incorrect) sample, go back to the earlier correct one
BACKTRACK = [
    "That attempt is wrong, but an earlier attempt was correct. Let me go back to it.",
    "This new answer fails the check. My earlier solution was right, so I will return to it.",
    "I should not abandon my earlier answer: it was verified as correct. Going back to it:",
    "The latest try is incorrect. Backtracking to the solution I verified before:",
]

# *CC: after two correct samples agree
CONFIRM = [
    "Both attempts reach the same correct result, so I am confident.",
    "Two independent solutions agree, which confirms the answer.",
    "The second attempt confirms the first one.",
    "Solving it twice gave a correct answer both times, so the answer is confirmed.",
]

# *C*IC and *CC without reflections: the same moves, no verdict stated
GENERIC_BACKTRACK = [
    "Let me return to one of my earlier attempts.",
    "I will go back to an earlier solution:",
    "Going back to a previous attempt:",
    "Let me look again at the attempt I made before.",
]
GENERIC_CONFIRM = [
    "The last two attempts reach the same result.",
    "Two attempts give the same answer here.",
    "Solving it twice led to the same answer.",
    "Both attempts end with the same answer.",
]

ALL = {
    "retry": RETRY,
    "double_check": DOUBLE_CHECK,
    "generic": GENERIC,
    "ending": ENDING,
    "backtrack": BACKTRACK,
    "generic_backtrack": GENERIC_BACKTRACK,
    "confirm": CONFIRM,
    "generic_confirm": GENERIC_CONFIRM,
}
#: the pools whose phrases state a verdict (never used in a trace without reflections)
VERDICT_STATING = ("retry", "double_check", "backtrack", "confirm")


def glue_pools(with_reflections: bool) -> tuple[list[str], list[str], list[str], list[str]]:
    """(after a correct sample, after an incorrect one, backtrack, confirm) for a trace with or without reflections."""
    if with_reflections:
        return DOUBLE_CHECK, RETRY, BACKTRACK, CONFIRM
    return GENERIC, GENERIC, GENERIC_BACKTRACK, GENERIC_CONFIRM
