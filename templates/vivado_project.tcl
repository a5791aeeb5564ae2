# finngen: a Vivado project that turns one build's RTL into a PYNQ overlay.
#
# Written for Vivado 2022.2 to 2024.2 (project mode, IP integrator). From the build directory:
#
#     vivado -mode batch -source vivado/build_overlay.tcl
#
# (or `finngen synth BUILD_DIR`, which runs the same and logs to vivado/vivado.log). It writes
# vivado/output/<overlay>.bit and <overlay>.hwh, the pair PYNQ's Overlay loads; the project
# itself is in vivado/project.
#
# The block design: the Zynq PS clocks the programmable logic at the build's clock; an AXI DMA
# in simple mode reads the input words from DDR through the PS's HP port into the accelerator's
# s_axis and writes its m_axis back, a batch of frames per transfer (the accelerator sets TLAST
# on the last frame of a batch, as the DMA set it on the input); the PS programs the
# DMA through its GP port. Every value below was filled in by finngen from build.json and the
# board file, each quoted so that it is taken literally.

set model          @MODEL@
set overlay        @OVERLAY@
set board          @BOARD@
set board_parts    @BOARD_PARTS@
set part           @PART@
set ps_kind        @PS_KIND@
set clock_mhz      @CLOCK_MHZ@
set hp_width       @HP_WIDTH@
set in_width       @IN_WIDTH@
set in_dma_width   @IN_DMA_WIDTH@
set out_width      @OUT_WIDTH@
set out_dma_width  @OUT_DMA_WIDTH@
set length_bits    @LENGTH_BITS@
set top            @TOP@

# Paths come from where this script is, so the build directory can move (to another machine).
set here      [file dirname [file normalize [info script]]]
set rtl_dir   [file join [file dirname $here] rtl]
set proj_name finngen_overlay
set proj_dir  [file join $here project]
set out_dir   [file join $here output]
set bd        finngen
# out-of-context IP runs go in parallel
set jobs      4

proc step {text} {
    puts "finngen: $text"
    flush stdout
}

# a run that did not reach 100% has failed: stop with its log rather than copy stale files
proc check_run {run} {
    if {[get_property PROGRESS [get_runs $run]] ne "100%"} {
        error "finngen: $run failed; see [file join [get_property DIRECTORY [get_runs $run]] runme.log]"
    }
}

# Connect a stream master to a slave of another width. AXI DMA streams are 8 to 1024 bits in
# powers of two, the accelerator's are whole bytes: an axis_subset_converter keeps the low bits
# of each beat or zero-extends it, one beat for one beat, so each word in memory is one beat.
proc connect_stream {name master master_bits slave slave_bits} {
    if {$master_bits == $slave_bits} {
        connect_bd_intf_net [get_bd_intf_pins $master] [get_bd_intf_pins $slave]
        return
    }
    set cell [create_bd_cell -type ip -vlnv xilinx.com:ip:axis_subset_converter $name]
    if {$slave_bits < $master_bits} {
        set remap "tdata\[[expr {$slave_bits - 1}]:0\]"
    } else {
        set pad [expr {$slave_bits - $master_bits}]
        set remap "${pad}'b[string repeat 0 $pad],tdata\[[expr {$master_bits - 1}]:0\]"
    }
    # TLAST passes through: the DMA ends a batch's transfer with it, the accelerator answers in kind
    set_property -dict [list CONFIG.S_TDATA_NUM_BYTES [expr {$master_bits / 8}] \
                             CONFIG.M_TDATA_NUM_BYTES [expr {$slave_bits / 8}] \
                             CONFIG.TDATA_REMAP $remap \
                             CONFIG.S_HAS_TLAST 1 CONFIG.M_HAS_TLAST 1 CONFIG.TLAST_REMAP tlast\[0\]] $cell
    connect_bd_intf_net [get_bd_intf_pins $master] [get_bd_intf_pins $name/S_AXIS]
    connect_bd_intf_net [get_bd_intf_pins $name/M_AXIS] [get_bd_intf_pins $slave]
    connect_bd_net [get_bd_pins $::pl_clk] [get_bd_pins $name/aclk]
    connect_bd_net [get_bd_pins reset/peripheral_aresetn] [get_bd_pins $name/aresetn]
}

step "overlay $overlay for $model on $board ($part, $ps_kind, $clock_mhz MHz)"
regexp {^[0-9]+\.[0-9]+} [version -short] vivado_version
if {[package vcompare $vivado_version 2022.2] < 0 || [package vcompare $vivado_version 2024.2] > 0} {
    puts "finngen: WARNING: this script was written for Vivado 2022.2 to 2024.2, not $vivado_version"
}

step "creating the project in $proj_dir"
create_project -force $proj_name $proj_dir -part $part
# With the board's files installed, its preset sets the PS's DDR, MIO and PLLs as on the board,
# so the PL clock comes out at the frequency the design was timed for.
set preset ""
if {$board_parts ne ""} {
    set preset [lindex [get_board_parts -quiet -latest_file_version $board_parts] 0]
}
if {$preset ne ""} {
    set_property board_part $preset [current_project]
} else {
    puts "finngen: WARNING: no Vivado board files for $board; the PS keeps its defaults, so check\
          that the board's PL clock comes out at $clock_mhz MHz"
}
add_files -norecurse [glob -directory $rtl_dir *.v]
update_compile_order -fileset sources_1

step "building the block design"
create_bd_design $bd
if {$ps_kind eq "zynq-7000"} {
    create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7 ps
    apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
        -config [list make_external {FIXED_IO, DDR} apply_board_preset [expr {$preset ne ""}] \
                      Master Disable Slave Disable] [get_bd_cells ps]
    set_property -dict [list CONFIG.PCW_USE_M_AXI_GP0 1 CONFIG.PCW_USE_S_AXI_HP0 1 \
                             CONFIG.PCW_S_AXI_HP0_DATA_WIDTH $hp_width \
                             CONFIG.PCW_EN_CLK0_PORT 1 CONFIG.PCW_EN_RST0_PORT 1 \
                             CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $clock_mhz] [get_bd_cells ps]
    set pl_clk ps/FCLK_CLK0
    set pl_resetn ps/FCLK_RESET0_N
    set gp ps/M_AXI_GP0
    set hp ps/S_AXI_HP0
    set port_clocks {ps/M_AXI_GP0_ACLK ps/S_AXI_HP0_ACLK}
    set addr_bits 32
} else {
    create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e ps
    apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e \
        -config [list apply_board_preset [expr {$preset ne ""}]] [get_bd_cells ps]
    # one master (HPM0_FPD) for the DMA's registers, one slave (HP0_FPD) for its data
    set_property -dict [list CONFIG.PSU__USE__M_AXI_GP0 1 CONFIG.PSU__USE__M_AXI_GP1 0 \
                             CONFIG.PSU__USE__M_AXI_GP2 0 CONFIG.PSU__USE__S_AXI_GP2 1 \
                             CONFIG.PSU__SAXIGP2__DATA_WIDTH $hp_width CONFIG.PSU__FPGA_PL0_ENABLE 1 \
                             CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $clock_mhz] [get_bd_cells ps]
    set pl_clk ps/pl_clk0
    set pl_resetn ps/pl_resetn0
    set gp ps/M_AXI_HPM0_FPD
    set hp ps/S_AXI_HP0_FPD
    set port_clocks {ps/maxihpm0_fpd_aclk ps/saxihp0_fpd_aclk}
    # PYNQ may place buffers above 4 GiB on these boards
    set addr_bits 64
}

# One clock and one reset for everything. The accelerator's rst is active-high and synchronous:
# proc_sys_reset's peripheral_reset is exactly that, the inverse of its peripheral_aresetn.
create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset reset
connect_bd_net [get_bd_pins $pl_clk] [get_bd_pins reset/slowest_sync_clk]
connect_bd_net [get_bd_pins $pl_resetn] [get_bd_pins reset/ext_reset_in]
foreach pin $port_clocks {
    connect_bd_net [get_bd_pins $pl_clk] [get_bd_pins $pin]
}

create_bd_cell -type module -reference $top accelerator
connect_bd_net [get_bd_pins $pl_clk] [get_bd_pins accelerator/clk]
connect_bd_net [get_bd_pins reset/peripheral_reset] [get_bd_pins accelerator/rst]
# Vivado guesses a module's reset polarity and clock frequency from names and defaults
if {[get_property CONFIG.POLARITY [get_bd_pins accelerator/rst]] ne "ACTIVE_HIGH"} {
    set_property CONFIG.POLARITY ACTIVE_HIGH [get_bd_pins accelerator/rst]
}
set_property CONFIG.FREQ_HZ [get_property CONFIG.FREQ_HZ [get_bd_pins $pl_clk]] [get_bd_pins accelerator/clk]

# Simple mode (no scatter-gather): PYNQ's DMA driver runs one buffer per transfer. The length
# register gets its widest setting so that one transfer can carry a whole batch of images. The
# memory side is at least as wide as the HP port, so the stream never waits for the bus.
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma axi_dma_0
set_property -dict [list CONFIG.c_include_sg 0 CONFIG.c_sg_length_width $length_bits \
                         CONFIG.c_addr_width $addr_bits \
                         CONFIG.c_m_axis_mm2s_tdata_width $in_dma_width \
                         CONFIG.c_s_axis_s2mm_tdata_width $out_dma_width \
                         CONFIG.c_m_axi_mm2s_data_width [expr {max($in_dma_width, $hp_width)}] \
                         CONFIG.c_m_axi_s2mm_data_width [expr {max($out_dma_width, $hp_width)}]] \
    [get_bd_cells axi_dma_0]
foreach pin {s_axi_lite_aclk m_axi_mm2s_aclk m_axi_s2mm_aclk} {
    connect_bd_net [get_bd_pins $pl_clk] [get_bd_pins axi_dma_0/$pin]
}
connect_bd_net [get_bd_pins reset/peripheral_aresetn] [get_bd_pins axi_dma_0/axi_resetn]
connect_stream to_accelerator axi_dma_0/M_AXIS_MM2S $in_dma_width accelerator/s_axis $in_width
connect_stream from_accelerator accelerator/m_axis $out_width axi_dma_0/S_AXIS_S2MM $out_dma_width

# Registers: PS GP master -> AXI interconnect -> DMA. Data: both DMA masters -> SmartConnect -> HP.
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_interconnect control
set_property -dict [list CONFIG.NUM_SI 1 CONFIG.NUM_MI 1] [get_bd_cells control]
connect_bd_intf_net [get_bd_intf_pins $gp] [get_bd_intf_pins control/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins control/M00_AXI] [get_bd_intf_pins axi_dma_0/S_AXI_LITE]
foreach pin {ACLK S00_ACLK M00_ACLK} {
    connect_bd_net [get_bd_pins $pl_clk] [get_bd_pins control/$pin]
}
connect_bd_net [get_bd_pins reset/interconnect_aresetn] [get_bd_pins control/ARESETN]
foreach pin {S00_ARESETN M00_ARESETN} {
    connect_bd_net [get_bd_pins reset/peripheral_aresetn] [get_bd_pins control/$pin]
}
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect memory
set_property -dict [list CONFIG.NUM_SI 2 CONFIG.NUM_MI 1] [get_bd_cells memory]
connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXI_MM2S] [get_bd_intf_pins memory/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXI_S2MM] [get_bd_intf_pins memory/S01_AXI]
connect_bd_intf_net [get_bd_intf_pins memory/M00_AXI] [get_bd_intf_pins $hp]
connect_bd_net [get_bd_pins $pl_clk] [get_bd_pins memory/aclk]
connect_bd_net [get_bd_pins reset/interconnect_aresetn] [get_bd_pins memory/aresetn]

assign_bd_address
validate_bd_design
save_bd_design

step "synthesis (this takes a while)"
set bd_file [get_files $bd.bd]
# add_files takes a list of files: a path with spaces must go in as one element
add_files -norecurse [list [make_wrapper -files $bd_file -top]]
set_property top ${bd}_wrapper [current_fileset]
update_compile_order -fileset sources_1
launch_runs synth_1 -jobs $jobs
wait_on_run synth_1
check_run synth_1

step "implementation and bitstream"
launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
check_run impl_1
set wns [get_property STATS.WNS [get_runs impl_1]]
if {$wns < 0} {
    puts "finngen: WARNING: timing is not met at $clock_mhz MHz (worst slack $wns ns): the overlay may\
          compute wrong results; rebuild with a lower --clock"
}

# PYNQ loads <name>.bit with the <name>.hwh beside it; the hwh is the block design's hand-off file.
set bit [file join [get_property DIRECTORY [get_runs impl_1]] ${bd}_wrapper.bit]
set hwh [file join $proj_dir ${proj_name}.gen sources_1 bd $bd hw_handoff ${bd}.hwh]
foreach file [list $bit $hwh] {
    if {![file exists $file]} {
        error "finngen: Vivado did not write $file"
    }
}
file mkdir $out_dir
file copy -force $bit [file join $out_dir ${overlay}.bit]
file copy -force $hwh [file join $out_dir ${overlay}.hwh]
step "wrote [file join $out_dir ${overlay}.bit] and ${overlay}.hwh"
