"""The matrix-vector-threshold unit (MVTU): one binarized matrix layer, folded FINN-style.

``pe`` processing elements each compute one output channel; each reads ``simd`` input
elements per cycle. For every output pixel the unit takes the ``fan_in / simd`` beats of its
input vector once, keeps them in a small buffer and replays them for each of the
``out_channels / pe`` neuron folds, so a pixel takes exactly ``(MH / PE) * (MW / SIMD)`` cycles.

Pipeline (see :attr:`MVTU.latency`), one stage per cycle and no stall inside it:

* stage 0: fold counters pick the weight word (``nf * SF + sf``) and the input beat (from the
  stream while ``nf == 0``, else from a replay buffer); the memories are read;
* stage 1: the read data, then registered again (the block RAM's output register in Vivado);
  a weight memory in block RAM deeper than one block is read in depth slices side by side, all
  registered, and joined by registered levels of 4:1 muxes
  (:func:`finngen.compile.kinds.matrix.weight_slices`); a replay buffer that may sit in block RAM
  is registered before the mux that picks the beat
  (:func:`~finngen.compile.kinds.matrix.replay_registered`);
* the XNOR-popcount (bipolar inputs) or signed sum of ``+-x`` (integer inputs) per PE, as an
  adder tree with a register rank every two adder levels (none for a narrow SIMD), then the
  accumulators; for bipolar inputs ``2 * agreements - valid taps`` in a stage of its own; a unit
  wider than :data:`~finngen.compile.kinds.matrix.BEAT_COPY_LANES` first registers the beat
  again, a copy per group of PEs, with the weights, and registers its trees' sums before the
  accumulators (:func:`~finngen.compile.kinds.matrix.wide_stages`);
* the threshold compare (hidden layers) in a stage of its own, into an output FIFO.

The weights are one memory, as in FINN: word ``nf * SF + sf`` holds the ``SIMD`` columns of
all ``PE`` rows of the fold, ``PE * SIMD`` bits; the thresholds likewise one word of ``PE``
entries per neuron fold (in logic, a copy per few PEs, read at a fold counter of its own). Each
memory goes where
:func:`finngen.compile.resources.rom_style` says (the stage kind prices the same answer), and
synthesis is told so: a block RAM read synchronously (``rom_style = "block"``), or LUTs read
from a register that copies the address (``logic_block``), which yosys maps about four times
smaller than the same ROM read straight from the fold counter; a wide ROM in logic from a copy
of that register per few hundred columns (:func:`~finngen.compile.kinds.matrix.rom_copies`).

Back-pressure stops only the fold counters: a beat that finishes an output is issued only when
the output FIFO has an entry reserved for it, so nothing in the datapath waits for ``o.ready``
and no combinational path runs from ``o.ready`` to ``i.ready``.
"""
from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, Value, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from .. import ir
from ..compile.kinds.matrix import (JOIN, THRESHOLD_LEAD, beat_copies, beat_stages, cycles_per_pixel,
                                   join_groups, memory_styles, replay_registered, rom_copies, threshold_copies,
                                   weight_lag, weight_slices, wide_stages)
from ..compile.resources import ROM_PLACES, SLICE_DEPTH
from .arith import pipelined_tree_sum, tree_levels, tree_registers
from .fifo import BUFFERED_LATENCY, StreamFIFO
from .packing import lanes, require_divisor, window_shape

__all__ = ["MVTU", "cycles_per_pixel"]


def tree_ranks(layer, simd) -> int:
    """Register ranks inside the popcount (or signed sum) tree: none for a narrow SIMD."""
    levels = tree_levels(simd)
    return tree_registers(levels) if layer.in_type.bipolar else tree_registers(levels, before=1)


class MVTU(wiring.Component):
    """Matrix-vector-threshold unit for one :class:`~finngen.ir.MatrixLayer`.

    Parameters
    ----------
    layer : :class:`~finngen.ir.MatrixLayer`
        Weights, thresholds (or ``None`` for the last layer) and types.
    pe : int
        Output channels computed in parallel; divides ``layer.out_channels``.
    simd : int
        Input elements consumed per cycle; divides ``layer.fan_in``.
    weights : ``"block"``, ``"logic"`` or None
        Where the weight memory goes; None: where :func:`finngen.compile.resources.rom_style`
        puts it.

    Members
    -------
    i : ``In(stream.Signature(window_shape(in_type, simd, layer.has_padding)))``
        The input vectors, ``fan_in / simd`` beats per output pixel in (ky, kx, c) order.
    o : ``Out(stream.Signature(unsigned(pe * out_bits)))``
        ``out_channels / pe`` beats per pixel; channel ``nf * pe + p`` in lane ``p``. One bit per
        channel for hidden layers, a signed ``acc_bits`` integer for the last layer.
    """

    def __init__(self, layer, pe, simd, weights=None):
        if not isinstance(layer, ir.MatrixLayer):
            raise TypeError(f"An MVTU implements an ir.MatrixLayer, not {layer!r}")
        if weights not in (None, *ROM_PLACES):
            raise ValueError(f"The weights go to {' or '.join(map(repr, ROM_PLACES))} (or None), not {weights!r}")
        require_divisor(layer.out_channels, pe, "PE", f"the output channels of {layer.name}")
        require_divisor(layer.fan_in, simd, "SIMD", f"the fan-in of {layer.name}")
        self.layer = layer
        self.pe = pe
        self.simd = simd
        self.weights = weights
        self.neuron_folds = layer.out_channels // pe
        self.synapse_folds = layer.fan_in // simd
        self.out_bits = layer.out_type.bits
        super().__init__({
            "i": In(stream.Signature(window_shape(layer.in_type, simd, layer.has_padding))),
            "o": Out(stream.Signature(unsigned(pe * self.out_bits))),
        })

    @property
    def cycles_per_pixel(self):
        return cycles_per_pixel(self.layer, self.pe, self.simd)

    # -- memory contents ----------------------------------------------------------------------

    def weight_words(self):
        """The weight memory: word ``nf * SF + sf`` holds, in bits ``[p * SIMD, (p + 1) * SIMD)``,
        columns ``[sf * SIMD, (sf + 1) * SIMD)`` of row ``nf * PE + p``, column ``j`` at bit ``j``
        of its lane."""
        pe, simd = self.pe, self.simd
        # (nf, p, sf, j) -> (nf, sf, p, j): a word is one synapse fold of the PE rows of a fold
        bits = self.layer.weights.reshape(self.neuron_folds, pe, self.synapse_folds, simd)
        bits = bits.transpose(0, 2, 1, 3).reshape(-1, pe * simd)
        # shifts in Python ints: words are wider than 64 bits
        return [int("".join("1" if b else "0" for b in word[::-1]), 2) for word in bits]

    def threshold_words(self):
        """The threshold memory: word ``nf`` holds, in lane ``p``, channel ``nf * PE + p``."""
        layer, pe = self.layer, self.pe
        entries = [{"threshold": int(t), "invert": int(inv)} for t, inv in zip(layer.threshold, layer.invert)]
        return [entries[nf * pe:(nf + 1) * pe] for nf in range(self.neuron_folds)]

    @property
    def memory_styles(self) -> tuple:
        """Where the (weights, thresholds) memories go: ``"block"`` or ``"logic"`` each
        (thresholds ``None`` for the last layer)."""
        return memory_styles(self.layer, self.pe, self.simd, self.weights)

    # -- pipeline ------------------------------------------------------------------------------

    @property
    def latency(self) -> int:
        return self.latency_of(self.layer, self.pe, self.simd, self.weights)

    @staticmethod
    def latency_of(layer, pe, simd, weights=None) -> int:
        """Cycles from the cycle the unit takes a pixel's last input beat (the last synapse fold
        of neuron fold 0) to the cycle that fold's output beat is valid on ``o``, without
        back-pressure: the memory read, its output register (and the slices' muxes, for weights
        in block RAM deeper than a block; a register of the replay buffer's read in block RAM),
        the tree's ranks (and a wide unit's beat copies and registered tree sums), the
        accumulator, the sum (bipolar) and the threshold compare, then the output FIFO's two. (A
        static method: the compiler's stage kind asks it without building the unit.)"""
        bipolar, thresholded = layer.in_type.bipolar, layer.threshold is not None
        return (beat_stages(layer, pe, simd, weights) + 1 + wide_stages(layer, pe, simd)
                + tree_ranks(layer, simd) + bipolar + thresholded + BUFFERED_LATENCY)

    @property
    def _out_depth(self) -> int:
        return self.out_depth_of(self.layer, self.pe, self.simd, self.weights)

    @staticmethod
    def out_depth_of(layer, pe, simd, weights=None) -> int:
        """Output FIFO entries: every output beat in flight holds a reserved entry from the cycle
        its last synapse fold is issued until the cycle after it leaves, and one leaves at most
        every ``synapse_folds`` cycles, so this many keep the unit from ever waiting for them."""
        return max(3, -(-(MVTU.latency_of(layer, pe, simd, weights) + 2) // (layer.fan_in // simd)) + 1)

    # -- hardware -------------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        layer, pe, simd = self.layer, self.pe, self.simd
        NF, SF = self.neuron_folds, self.synapse_folds
        masked = layer.has_padding

        # The datapath never stalls: a beat is issued only when the output FIFO has an entry
        # reserved for its result (if it finishes an output), so back-pressure from ``o`` stops
        # the fold counters and nothing else, and no ready path crosses the unit.
        m.submodules.out = out = StreamFIFO(unsigned(pe * self.out_bits), self._out_depth)
        wiring.connect(m, out.o, wiring.flipped(self.o))
        free = Signal(range(self._out_depth + 1), init=self._out_depth)

        # Stage 0: fold counters pick the weight word (nf * SF + sf) and the input beat (from the
        # stream while nf == 0, else from the replay buffer).
        nf = Signal(range(NF))
        sf = Signal(range(SF))
        waddr = Signal(range(NF * SF))
        from_input = Signal()
        can_issue = Signal()
        fire = Signal()
        finishes = Signal()
        m.d.comb += [
            from_input.eq(nf == 0),
            finishes.eq(sf == SF - 1),
            can_issue.eq(~finishes | (free != 0)),
            self.i.ready.eq(can_issue & from_input),
            fire.eq(can_issue & (~from_input | self.i.valid)),
        ]
        m.d.sync += free.eq(free - (fire & finishes) + (out.o.valid & out.o.ready))
        with m.If(fire):
            m.d.sync += waddr.eq(Mux(waddr == NF * SF - 1, 0, waddr + 1))
            with m.If(finishes):
                m.d.sync += [sf.eq(0), nf.eq(Mux(nf == NF - 1, 0, nf + 1))]
            with m.Else():
                m.d.sync += sf.eq(sf + 1)

        # Flags that travel with each beat: stage k's are flags[k]. `clear` (a pixel's last
        # beat) resets the running sums after it; it is 1 in every stage after a reset, so the
        # sums start from 0 whatever a reset interrupted.
        flags = [{"valid": fire, "last": finishes, "clear": fire & finishes, "nf": nf}]

        def next_stage():
            now = flags[-1]
            later = {key: Signal(Value.cast(v).shape(), name=f"{key}{len(flags)}", init=key == "clear")
                     for key, v in now.items()}
            m.d.sync += [later[key].eq(v) for key, v in now.items()]
            flags.append(later)
            return later

        # Data registers need no reset: the valid flags say what they hold.

        # Stage 1: the memories' read data. The input vector of the current pixel is replayed
        # from a small buffer for the neuron folds nf > 0.
        beat_in = Value.cast(self.i.payload)
        beat = _registered(m, beat_in, "beat1")
        weight_style, threshold_style = self.memory_styles
        slices = weight_slices(layer, pe, simd, self.weights)
        last = beat_stages(layer, pe, simd, self.weights)
        # the weights are read as late as the beat needs them (beat_stages says why)
        for lag in range(weight_lag(layer, pe, simd, self.weights)):
            waddr = _registered(m, waddr, f"waddr{lag + 1}")
        if slices > 1:
            weights1 = _sliced_rom(m, "weights", unsigned(pe * simd), self.weight_words(), slices, waddr)
        else:
            weights1 = _rom(m, "weights", unsigned(pe * simd), self.weight_words(), weight_style, waddr)
        now = next_stage()
        if NF > 1:
            # written from the registered beat a cycle late: the input may come straight from a
            # block RAM FIFO's unregistered output, which reached no further than a register
            # in time at LFC's 1024-wide layers; with one synapse fold the next fold reads the
            # word in the cycle it is written, so the read sees the write
            m.submodules.vector = vector = memory.Memory(shape=len(beat_in), depth=SF, init=[])
            wr = vector.write_port()
            rd = vector.read_port(transparent_for=(wr,) if SF == 1 else ())
            sf1 = _registered(m, sf, "sf1")
            m.d.comb += [wr.addr.eq(sf1), wr.data.eq(beat), wr.en.eq(now["valid"] & (now["nf"] == 0)),
                         rd.addr.eq(sf)]
            replay = rd.data
            if replay_registered(layer, pe, simd):
                beat, replay = _registered(m, beat, "beat2"), _registered(m, replay, "replay2")
                now = next_stage()
            beat = Mux(now["nf"] == 0, beat, replay)

        # Stage 2: the memory outputs, registered (a block RAM's own output register); a weight
        # memory read in slices registers the row of all slices here, then the levels of muxes.
        for stage in range(len(flags), last):
            beat = _registered(m, beat, f"beat{stage}")
            next_stage()
        beat = _registered(m, beat, f"beat{last}")
        weights = _registered(m, weights1, f"weights{last}")
        next_stage()
        beat = data.View(self.i.payload.shape(), beat) if masked else beat
        x = beat.data if masked else beat
        mask = beat.mask if masked else Const((1 << simd) - 1, simd)

        # Then the trees, then the accumulators (one adder in their cycle). Each PE
        # keeps a running sum that `clear` resets through its flip-flops' synchronous reset,
        # and registers the sum beside it: a flag that reaches every accumulator bit of every
        # PE must not feed their adders too (at PE 64 its routing alone took most of a 150 MHz
        # cycle), and a reset pin adds no logic after it.
        partials, n_valid = self._partials(m, x, mask, [weights[p * simd:(p + 1) * simd] for p in range(pe)],
                                           flags[-2]["valid"])
        for _ in range(wide_stages(layer, pe, simd) + tree_ranks(layer, simd)):
            next_stage()
        now = flags[-1]
        accs = []
        for p, partial in enumerate(partials + ([n_valid] if n_valid is not None else [])):
            name = f"acc{p}" if p < pe else "n_valid"
            running = Signal(signed(layer.acc_bits), name=f"running_{name}", reset_less=True)
            acc = Signal(signed(layer.acc_bits), name=name, reset_less=True)
            total = running + partial
            with m.If(now["clear"]):
                m.d.sync += running.eq(0)
            with m.Elif(now["valid"]):
                m.d.sync += running.eq(total)
            with m.If(now["valid"]):
                m.d.sync += acc.eq(total)
            accs.append(acc)
        now = next_stage()

        if layer.in_type.bipolar:
            # s = 2 * agreements - valid taps
            valid_taps = accs[pe] if n_valid is not None else layer.fan_in
            sums = [Signal(signed(layer.acc_bits), name=f"sum{p}", reset_less=True) for p in range(pe)]
            m.d.sync += [s.eq(2 * acc - valid_taps) for s, acc in zip(sums, accs)]
            now = next_stage()
        else:
            sums = accs[:pe]

        if layer.threshold is not None:
            # The threshold compare in a stage of its own; the thresholds are read two stages
            # ahead and registered, like the weights.
            # A memory in logic has a copy per few PEs (kinds.matrix.threshold_copies says why),
            # each read at its own copy of the fold.
            entry = data.StructLayout({"threshold": signed(layer.threshold_bits), "invert": 1})
            words = self.threshold_words()
            copies = threshold_copies(layer, pe, simd)
            results = []
            for c, lanes_c in enumerate(copies):
                name = "thresholds" if len(copies) == 1 else f"thresholds{c}"
                word = data.ArrayLayout(entry, len(lanes_c))
                # Stored and registered as plain bits, seen as the layout only at the compare: a
                # signal of an array layout also names a wire per element (`thresholds0[1]` beside
                # `thresholds0`), and yosys 0.70's abc9 takes bit 1 of the one for the other and
                # stops on an assert (abc_ops_reintegrate.cc:596, CNV-W1A1 at --fps 3000).
                raw = [Const.cast(word.const(w[lanes_c.start:lanes_c.stop])).value for w in words]
                ahead = flags[-THRESHOLD_LEAD]
                fold = ahead["nf"] if len(copies) == 1 else _fold_copy(m, ahead, NF, f"{name}_fold")
                read = _rom(m, name, unsigned(word.size), raw, threshold_style, fold)
                # It starts as fold 0's word: a column equal in every fold then feeds its register
                # its own initial value, and synthesis makes it a constant (yosys keeps a register
                # of constant input 1 from 0, and merges all of them into one that reaches every PE).
                thresholds = Signal(word.size, name=name, reset_less=True, init=raw[0])
                m.d.sync += thresholds.eq(read)
                for t, p in zip(data.View(word, thresholds), lanes_c):
                    bit = Signal(name=f"out{p}", reset_less=True)
                    m.d.sync += bit.eq((sums[p] >= t.threshold) ^ t.invert)
                    results.append(bit)
            now = next_stage()
        else:
            results = sums
        m.d.comb += [out.i.valid.eq(now["valid"] & now["last"]), out.i.payload.eq(Cat(*results))]
        return m

    def _partials(self, m, x, mask, weights, loaded):
        """Per PE the beat's contribution to its sum, :func:`tree_ranks` cycles later (and
        :func:`~finngen.compile.kinds.matrix.wide_stages` more: a wide unit's beat copies, and its
        sums registered): the XNOR agreements among the valid taps (bipolar inputs) or the signed
        sum of ``+-x``; and for a bipolar padded layer the beat's valid taps (else None), which
        every PE shares. ``loaded``: the valid flag of the stage before the beat's."""
        layer, pe, simd = self.layer, self.pe, self.simd
        xs, masks, weights = self._beat_copies(m, x, mask, weights, loaded)
        n_valid = None
        if layer.in_type.bipolar:
            if layer.has_padding:
                n_valid = pipelined_tree_sum(m, list(masks[0]), name="n_valid")
            partials = [pipelined_tree_sum(m, list(~(x ^ w) & mask), name=f"count{p}")
                        for p, (x, mask, w) in enumerate(zip(xs, masks, weights))]
        else:
            # Partial sums of any subset of taps lie within [acc_min, acc_max] (each tap's range
            # contains 0), so an acc_bits accumulator cannot overflow.
            partials = []
            for p, (x, mask, w) in enumerate(zip(xs, masks, weights)):
                taps = lanes(x, layer.in_type, simd)
                partials.append(pipelined_tree_sum(
                    m, [Mux(mask[j], Mux(w[j], taps[j], -taps[j]), 0) for j in range(simd)], before=1, name=f"sum{p}"))
        if beat_copies(layer, pe, simd):
            partials = [_registered(m, partial, f"partial{p}") for p, partial in enumerate(partials)]
            if n_valid is not None:
                n_valid = _registered(m, n_valid, "partial_n_valid")
        return partials, n_valid

    def _beat_copies(self, m, x, mask, weights, loaded):
        """Per PE the beat's data and mask and its weights: those given, or for a wide unit
        (:func:`~finngen.compile.kinds.matrix.beat_copies` says why) a cycle later, the beat
        from a copy per group of PEs placed beside them. A copy loads when the beat is valid, at
        a load flag of its own (:func:`_copy`): copies of one value that load at one flag would
        be the same logic, which synthesis merges back into one register."""
        layer, pe = self.layer, self.pe
        groups = beat_copies(layer, pe, self.simd)
        if not groups:
            return [x] * pe, [mask] * pe, weights
        xs, masks = [], []
        for g, lanes_g in enumerate(groups):
            load = _copy(m, loaded, f"beat_load{g}")
            copy = Signal(len(x), name=f"beat_copy{g}", reset_less=True)
            group_mask = Signal(len(mask), name=f"mask_copy{g}", reset_less=True) if layer.has_padding else mask
            with m.If(load):
                m.d.sync += copy.eq(x)
                if layer.has_padding:
                    m.d.sync += group_mask.eq(mask)
            xs += [copy] * len(lanes_g)
            masks += [group_mask] * len(lanes_g)
        return xs, masks, [_registered(m, w, f"weights_copy{p}") for p, w in enumerate(weights)]


def _fold_copy(m, stage, folds, name):
    """A counter equal to ``stage["nf"]`` in every cycle: it steps when the stage carries a
    fold's last beat, as ``nf`` did that many cycles before, and resets with it. Its next value
    comes from its own output, so no two copies are the same logic: synthesis merges registers
    whose inputs are equal (yosys' opt_merge spares only cells marked ``keep``, and Amaranth puts
    a signal's attributes on its wire, not on the flip-flop)."""
    fold = Signal(range(folds), name=name)
    with m.If(stage["valid"] & stage["last"]):
        m.d.sync += fold.eq(Mux(fold == folds - 1, 0, fold + 1))
    return fold


# What synthesis is told about a ROM's place. yosys reads these (memory_libmap); Vivado reads
# rom_style for a block ROM and infers LUTs for an asynchronous read.
ROM_ATTRS = {"block": {"rom_style": "block"}, "logic": {"logic_block": 1}}


def _rom(m, name, shape, words, style, address):
    """A ROM of ``words`` placed as ``style`` says, read at ``address`` (a value of this
    cycle): its word for that address, valid the next cycle. A block RAM is read synchronously;
    in logic it is read asynchronously from a register holding ``address``, a wide one as
    column slices, each from a copy of that register of its own
    (:func:`~finngen.compile.kinds.matrix.rom_copies` says why)."""
    if style == "block":
        mem = m.submodules[name] = memory.Memory(shape=shape, depth=len(words), init=words, attrs=ROM_ATTRS[style])
        port = mem.read_port()
        m.d.comb += port.addr.eq(address)
        return port.data
    copies = rom_copies(shape.width)
    if len(copies) == 1:
        return _rom_copy(m, name, shape, words, _registered(m, address, f"{name}_address"))
    return Cat(*(_rom_copy(m, f"{name}{c}", unsigned(len(columns)),
                           [word >> columns.start & ((1 << len(columns)) - 1) for word in words],
                           _copy(m, address, f"{name}{c}_address"))
                 for c, columns in enumerate(copies)))


def _rom_copy(m, name, shape, words, held):
    """A ROM in logic read asynchronously at ``held``, a register."""
    mem = m.submodules[name] = memory.Memory(shape=shape, depth=len(words), init=words, attrs=ROM_ATTRS["logic"])
    port = mem.read_port(domain="comb")
    m.d.comb += port.addr.eq(held)
    return port.data


def _copy(m, value, name):
    """A register that holds ``value`` a cycle later, each bit loaded only when it differs: its
    next value comes from its own output, so synthesis, which merges flip-flops whose inputs are
    equal, keeps every copy of one value apart (as :func:`_fold_copy`). Bit by bit, a load
    enable is one XOR: a compare of the whole address put two LUTs between the address and
    each copy of CNV conv1's weight ROM address, its worst path (6.29 ns)."""
    held = Signal(len(value), name=name, reset_less=True)
    for bit in range(len(value)):
        with m.If(held[bit] != value[bit]):
            m.d.sync += held[bit].eq(value[bit])
    return held


def _sliced_rom(m, name, shape, words, slices, address):
    """A ROM of ``words`` in block RAM, deeper than :data:`~finngen.compile.resources.SLICE_DEPTH`,
    read as ``slices`` slices of that depth side by side in one memory: the row the low bits of
    ``address`` (a value of this cycle) pick is read synchronously and registered, then the high
    bits pick the slice through registered levels of 4:1 muxes
    (:func:`~finngen.compile.kinds.matrix.join_groups`); the word is valid two cycles later plus
    one per level but the last, which the caller registers. A block's read data leaves it late
    (5.6 ns on an ECP5 DP16KD without the output register, which yosys does not use) and the
    blocks of a deep memory lie far apart, so the slices are joined after a register at each
    block, and a few at a time: a 64-way mux in one cycle placed LFC at 71.5 MHz."""
    width = Shape.cast(shape).width
    low = exact_log2(SLICE_DEPTH)
    rows = [sum(words[k * SLICE_DEPTH + a] << (k * width) for k in range(slices) if k * SLICE_DEPTH + a < len(words))
            for a in range(SLICE_DEPTH)]
    mem = m.submodules[name] = memory.Memory(shape=unsigned(slices * width), depth=SLICE_DEPTH, init=rows,
                                             attrs=ROM_ATTRS["block"])
    port = mem.read_port()
    m.d.comb += port.addr.eq(address[:low])
    row = Signal(slices * width, name=f"{name}_row", reset_less=True)
    m.d.sync += row.eq(port.data)
    select = address[low:]
    for stage in (1, 2):
        select, held = Signal(len(select), name=f"{name}_slice{stage}", reset_less=True), select
        m.d.sync += select.eq(held)
    words = [row.word_select(k, width) for k in range(slices)]
    for level, groups in enumerate(join_groups(slices)):
        if level:
            words = [_registered(m, word, f"{name}_join{level}_{k}") for k, word in enumerate(words)]
            select = _registered(m, select, f"{name}_slice{level + 2}")
        bits, select = select[:exact_log2(JOIN)], select[exact_log2(JOIN):]
        words = [_mux(words[k * JOIN:(k + 1) * JOIN], bits) for k in range(groups)]
    return words[0]


def _mux(words, select):
    """``words[select]`` as a tree of 2:1 muxes (``select`` never points past the words)."""
    for bit in select:
        words = [Mux(bit, words[k + 1], words[k]) if k + 1 < len(words) else words[k]
                 for k in range(0, len(words), 2)]
    return words[0]


def _registered(m, value, name):
    reg = Signal(Value.cast(value).shape(), name=name, reset_less=True)
    m.d.sync += reg.eq(value)
    return reg
