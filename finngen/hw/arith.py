"""Small arithmetic building blocks shared by the components, and how deep they are pipelined."""
from amaranth.hdl import Mux, Signal, Value

# Adder levels between two pipeline registers. A level on the ECP5 stand-in (and much the same
# in a 7-series slice) is one carry chain plus its routing, about 2 ns: two levels and the
# registers' own delays fit a 150 MHz clock.
ADDER_LEVELS = 2


def tree_levels(n: int) -> int:
    """Adder levels of a balanced tree over ``n`` terms: ceil(log2(n))."""
    return (n - 1).bit_length()


def _ranks(levels: int, before: int) -> list:
    """Where a pipelined tree of ``levels`` levels, ``before`` adder levels after the last
    register and feeding one more adder (an accumulator), puts its registers: after every
    :data:`ADDER_LEVELS` adders on the way, counted from that last register."""
    total = before + levels + 1
    return [p for p in range(ADDER_LEVELS, total, ADDER_LEVELS) if p >= before]


def tree_registers(levels: int, before: int = 0) -> int:
    """Register ranks of a pipelined adder tree (see :func:`pipelined_tree_sum`): none for a
    narrow tree, one more every :data:`ADDER_LEVELS` levels of a wider one."""
    return len(_ranks(levels, before))


def tree_register_bits(count: int, bits: int, before: int = 0) -> int:
    """Flip-flops in the register ranks of :func:`pipelined_tree_sum` over ``count`` terms of
    ``bits`` bits (each level's sums are a bit wider): what the resource model counts."""
    ranks = set(_ranks(tree_levels(count), before))
    done, total = before, 0
    while True:
        if done in ranks:
            total += count * bits
        if count == 1:
            return total
        count, bits, done = (count + 1) // 2, bits + 1, done + 1


def tree_sum(terms):
    """Sum ``terms`` as a balanced adder tree (log depth, rather than a chain of adders)."""
    return pipelined_tree_sum(None, terms)


def pipelined_tree_sum(m, terms, before=0, name="tree"):
    """Sum ``terms`` in a balanced adder tree, with register ranks (``m``'s sync domain, no
    enable) where :func:`tree_registers` counts them, so that the sum and one more adder fit
    a cycle. ``before``: adder levels between the last register and the terms (a negation,
    say). ``m=None`` builds no registers. The sum comes :func:`tree_registers` cycles after
    its terms."""
    terms = [Value.cast(t) for t in terms]
    if not terms:
        raise ValueError("tree_sum needs at least one term")
    ranks = set(_ranks(tree_levels(len(terms)), before)) if m is not None else set()
    done = before
    while True:
        if done in ranks:
            registered = [Signal(t.shape(), name=f"{name}_l{done - before}_{i}", reset_less=True)
                          for i, t in enumerate(terms)]
            m.d.sync += [r.eq(t) for r, t in zip(registered, terms)]
            terms = registered
        if len(terms) == 1:
            return terms[0]
        paired = [a + b for a, b in zip(terms[0::2], terms[1::2])]
        terms = paired + terms[len(paired) * 2:]
        done += 1


def popcount(value):
    """The number of bits set in ``value``."""
    value = Value.cast(value)
    return tree_sum([value[i] for i in range(len(value))]) if len(value) else 0


def add_mod(a, b, modulus):
    """``(a + b) % modulus`` for ``0 <= a, b < modulus`` (one adder and one subtraction, no
    divider): ring-buffer pointers that advance by more than one step."""
    total = a + b
    return Mux(total >= modulus, total - modulus, total)
