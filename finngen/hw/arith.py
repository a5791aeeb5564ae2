"""Small arithmetic building blocks shared by the components."""
from amaranth.hdl import Mux, Value


def tree_sum(terms):
    """Sum ``terms`` as a balanced adder tree (log depth, rather than a chain of adders)."""
    terms = [Value.cast(t) for t in terms]
    if not terms:
        raise ValueError("tree_sum needs at least one term")
    while len(terms) > 1:
        paired = [a + b for a, b in zip(terms[0::2], terms[1::2])]
        terms = paired + terms[len(paired) * 2:]
    return terms[0]


def popcount(value):
    """The number of bits set in ``value``."""
    value = Value.cast(value)
    return tree_sum([value[i] for i in range(len(value))]) if len(value) else 0


def add_mod(a, b, modulus):
    """``(a + b) % modulus`` for ``0 <= a, b < modulus`` (one adder and one subtraction, no
    divider): ring-buffer pointers that advance by more than one step."""
    total = a + b
    return Mux(total >= modulus, total - modulus, total)
