# bd.tcl (Vivado IP integrator block design): GENERATED FILE, DO NOT EDIT.
# Source: zcu102/overlay.toml (overlay 'zcu102' v2.0.0, xczu9eg-ffvb1156-2-e, board ZCU102)
# Configuration hash (sha256): 101c4be484092f5003416a75e69865ebf60a8339945e9b520cc65455cfef871d
# Regenerate with `python tools/gen_overlay_build.py`; CI runs it with --check.
# Written for Vivado / Vitis HLS 2025.2; see overlays/README.md.
# Sourced by build.tcl inside an open project whose IP repository holds the engine.

proc ednn_pin {path} {
    set pin [get_bd_pins -quiet $path]
    if {[llength $pin] != 1} {
        error "edge-dnn: block-design pin $path does not exist"
    }
    return $pin
}
proc ednn_intf {path} {
    set intf [get_bd_intf_pins -quiet $path]
    if {[llength $intf] != 1} {
        error "edge-dnn: block-design interface $path does not exist"
    }
    return $intf
}
# A generated clock must be the overlay's to within 0.1%.
proc ednn_check_freq {path mhz} {
    set hz [get_property CONFIG.FREQ_HZ [ednn_pin $path]]
    if {abs($hz - $mhz * 1e6) > $mhz * 1e3} {
        error "edge-dnn: $path runs at $hz Hz, overlay.toml asks for $mhz MHz"
    }
}
# The engine's stream ports must be as wide as overlay.toml's [streams.*].
proc ednn_check_stream {path bytes} {
    set got [get_property CONFIG.TDATA_NUM_BYTES [ednn_intf $path]]
    if {$got != $bytes} {
        error "edge-dnn: $path carries $got bytes per beat, overlay.toml says $bytes"
    }
}
proc ednn_check_cell {cell property expected} {
    set got [get_property $property [get_bd_cells $cell]]
    if {$got != $expected} {
        error "edge-dnn: $cell $property is $got, expected $expected"
    }
}

create_bd_design edge_dnn_zcu102

# ---- Zynq UltraScale+ PS with the ZCU102 board preset
create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e ps
apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config {apply_board_preset "1"} [get_bd_cells ps]
# Master ports carry the AXI-Lite windows; slave ports are [dma.*].hp_port (HP0, HP1, HP2, HP3, HPC0), 128 bits (memory.hp_port_bits).
set_property -dict [list \
    CONFIG.PSU__USE__M_AXI_GP0 {1} \
    CONFIG.PSU__USE__M_AXI_GP1 {0} \
    CONFIG.PSU__USE__M_AXI_GP2 {0} \
    CONFIG.PSU__USE__S_AXI_GP0 {1} \
    CONFIG.PSU__SAXIGP0__DATA_WIDTH {128} \
    CONFIG.PSU__USE__S_AXI_GP1 {0} \
    CONFIG.PSU__USE__S_AXI_GP2 {1} \
    CONFIG.PSU__SAXIGP2__DATA_WIDTH {128} \
    CONFIG.PSU__USE__S_AXI_GP3 {1} \
    CONFIG.PSU__SAXIGP3__DATA_WIDTH {128} \
    CONFIG.PSU__USE__S_AXI_GP4 {1} \
    CONFIG.PSU__SAXIGP4__DATA_WIDTH {128} \
    CONFIG.PSU__USE__S_AXI_GP5 {1} \
    CONFIG.PSU__SAXIGP5__DATA_WIDTH {128} \
    CONFIG.PSU__USE__IRQ0 {1} \
    CONFIG.PSU__FPGA_PL0_ENABLE {1} \
    CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ {100} \
] [get_bd_cells ps]

# ---- Clocks: one MMCM from pl_clk0 (100 MHz): fabric_clk = clocks.fabric_mhz (300 MHz) (single-pumped: the DSPs run on it too)
create_bd_cell -type ip -vlnv xilinx.com:ip:clk_wiz clocks
set_property -dict [list \
    CONFIG.PRIM_SOURCE {No_buffer} \
    CONFIG.USE_RESET {true} \
    CONFIG.RESET_TYPE {ACTIVE_LOW} \
    CONFIG.RESET_PORT {resetn} \
    CONFIG.USE_LOCKED {true} \
    CONFIG.CLK_OUT1_PORT {fabric_clk} \
    CONFIG.CLKOUT1_REQUESTED_OUT_FREQ {300.000} \
    CONFIG.NUM_OUT_CLKS {1} \
] [get_bd_cells clocks]
create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset fabric_reset

# ---- The engine (edge-dnn.org:hls:edge_dnn_engine:1.0, from hls.tcl)
create_bd_cell -type ip -vlnv edge-dnn.org:hls:edge_dnn_engine:1.0 engine
ednn_check_stream engine/cmd 8
ednn_check_stream engine/weights_0 16
ednn_check_stream engine/weights_1 16
ednn_check_stream engine/act_in_0 16
ednn_check_stream engine/act_in_1 16
ednn_check_stream engine/act_out_0 16
ednn_check_stream engine/act_out_1 16

# ---- AXI DMA (PG021), one per [dma.*]
# dma_weights0: MM2S weights0 (128 bit); PS port HP0
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma dma_weights0
set_property -dict [list \
    CONFIG.c_include_sg {1} \
    CONFIG.c_sg_length_width {26} \
    CONFIG.c_addr_width {64} \
    CONFIG.c_micro_dma {0} \
    CONFIG.c_include_mm2s {1} \
    CONFIG.c_include_s2mm {0} \
    CONFIG.c_sg_include_stscntrl_strm {0} \
    CONFIG.c_include_mm2s_dre {0} \
    CONFIG.c_m_axi_mm2s_data_width {128} \
    CONFIG.c_m_axis_mm2s_tdata_width {128} \
    CONFIG.c_mm2s_burst_size {64} \
] [get_bd_cells dma_weights0]
# dma_weights1: MM2S weights1 (128 bit); PS port HP1
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma dma_weights1
set_property -dict [list \
    CONFIG.c_include_sg {1} \
    CONFIG.c_sg_length_width {26} \
    CONFIG.c_addr_width {64} \
    CONFIG.c_micro_dma {0} \
    CONFIG.c_include_mm2s {1} \
    CONFIG.c_include_s2mm {0} \
    CONFIG.c_sg_include_stscntrl_strm {0} \
    CONFIG.c_include_mm2s_dre {0} \
    CONFIG.c_m_axi_mm2s_data_width {128} \
    CONFIG.c_m_axis_mm2s_tdata_width {128} \
    CONFIG.c_mm2s_burst_size {64} \
] [get_bd_cells dma_weights1]
# dma_act0: MM2S act_in0 (128 bit), S2MM act_out0 (128 bit); PS port HP2
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma dma_act0
set_property -dict [list \
    CONFIG.c_include_sg {1} \
    CONFIG.c_sg_length_width {26} \
    CONFIG.c_addr_width {64} \
    CONFIG.c_micro_dma {0} \
    CONFIG.c_include_mm2s {1} \
    CONFIG.c_include_s2mm {1} \
    CONFIG.c_sg_include_stscntrl_strm {0} \
    CONFIG.c_include_mm2s_dre {0} \
    CONFIG.c_m_axi_mm2s_data_width {128} \
    CONFIG.c_m_axis_mm2s_tdata_width {128} \
    CONFIG.c_mm2s_burst_size {64} \
    CONFIG.c_include_s2mm_dre {0} \
    CONFIG.c_m_axi_s2mm_data_width {128} \
    CONFIG.c_s_axis_s2mm_tdata_width {128} \
    CONFIG.c_s2mm_burst_size {64} \
] [get_bd_cells dma_act0]
# dma_act1: MM2S act_in1 (128 bit), S2MM act_out1 (128 bit); PS port HP3
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma dma_act1
set_property -dict [list \
    CONFIG.c_include_sg {1} \
    CONFIG.c_sg_length_width {26} \
    CONFIG.c_addr_width {64} \
    CONFIG.c_micro_dma {0} \
    CONFIG.c_include_mm2s {1} \
    CONFIG.c_include_s2mm {1} \
    CONFIG.c_sg_include_stscntrl_strm {0} \
    CONFIG.c_include_mm2s_dre {0} \
    CONFIG.c_m_axi_mm2s_data_width {128} \
    CONFIG.c_m_axis_mm2s_tdata_width {128} \
    CONFIG.c_mm2s_burst_size {64} \
    CONFIG.c_include_s2mm_dre {0} \
    CONFIG.c_m_axi_s2mm_data_width {128} \
    CONFIG.c_s_axis_s2mm_tdata_width {128} \
    CONFIG.c_s2mm_burst_size {64} \
] [get_bd_cells dma_act1]
# dma_cmd: MM2S cmd (64 bit); PS port HPC0
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma dma_cmd
set_property -dict [list \
    CONFIG.c_include_sg {1} \
    CONFIG.c_sg_length_width {26} \
    CONFIG.c_addr_width {64} \
    CONFIG.c_micro_dma {0} \
    CONFIG.c_include_mm2s {1} \
    CONFIG.c_include_s2mm {0} \
    CONFIG.c_sg_include_stscntrl_strm {0} \
    CONFIG.c_include_mm2s_dre {0} \
    CONFIG.c_m_axi_mm2s_data_width {128} \
    CONFIG.c_m_axis_mm2s_tdata_width {64} \
    CONFIG.c_mm2s_burst_size {64} \
] [get_bd_cells dma_cmd]

# ---- Interrupts: axi_intc with interrupts.controller_inputs (32) inputs, driving pl_ps_irq0[0] (GIC 121); unused inputs tied low
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_intc axi_intc
set_property -dict [list \
    CONFIG.C_IRQ_CONNECTION {1} \
] [get_bd_cells axi_intc]
create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat irq_concat
set_property -dict [list \
    CONFIG.NUM_PORTS {32} \
] [get_bd_cells irq_concat]
create_bd_cell -type ip -vlnv xilinx.com:ip:xlconstant irq_zero
set_property -dict [list \
    CONFIG.CONST_VAL {0} \
    CONFIG.CONST_WIDTH {1} \
] [get_bd_cells irq_zero]

# ---- Interconnects: AXI-Lite control per PS master port, memory per PS slave port
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect ctrl_hpm0_fpd
set_property -dict [list \
    CONFIG.NUM_SI {1} \
    CONFIG.NUM_MI {7} \
] [get_bd_cells ctrl_hpm0_fpd]
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect mem_hp0
set_property -dict [list \
    CONFIG.NUM_SI {2} \
    CONFIG.NUM_MI {1} \
] [get_bd_cells mem_hp0]
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect mem_hp1
set_property -dict [list \
    CONFIG.NUM_SI {2} \
    CONFIG.NUM_MI {1} \
] [get_bd_cells mem_hp1]
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect mem_hp2
set_property -dict [list \
    CONFIG.NUM_SI {3} \
    CONFIG.NUM_MI {1} \
] [get_bd_cells mem_hp2]
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect mem_hp3
set_property -dict [list \
    CONFIG.NUM_SI {3} \
    CONFIG.NUM_MI {1} \
] [get_bd_cells mem_hp3]
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect mem_hpc0
set_property -dict [list \
    CONFIG.NUM_SI {2} \
    CONFIG.NUM_MI {1} \
] [get_bd_cells mem_hpc0]

# ---- Nets
connect_bd_net -net pl_clk0 [ednn_pin ps/pl_clk0] \
    [ednn_pin clocks/clk_in1]
connect_bd_net -net pl_resetn0 [ednn_pin ps/pl_resetn0] \
    [ednn_pin clocks/resetn] \
    [ednn_pin fabric_reset/ext_reset_in]
connect_bd_net -net clk_locked [ednn_pin clocks/locked] \
    [ednn_pin fabric_reset/dcm_locked]
connect_bd_net -net fabric_clk [ednn_pin clocks/fabric_clk] \
    [ednn_pin fabric_reset/slowest_sync_clk] \
    [ednn_pin engine/ap_clk] \
    [ednn_pin ps/maxihpm0_fpd_aclk] \
    [ednn_pin ps/saxihp0_fpd_aclk] \
    [ednn_pin ps/saxihp1_fpd_aclk] \
    [ednn_pin ps/saxihp2_fpd_aclk] \
    [ednn_pin ps/saxihp3_fpd_aclk] \
    [ednn_pin ps/saxihpc0_fpd_aclk] \
    [ednn_pin dma_weights0/s_axi_lite_aclk] \
    [ednn_pin dma_weights0/m_axi_sg_aclk] \
    [ednn_pin dma_weights0/m_axi_mm2s_aclk] \
    [ednn_pin dma_weights1/s_axi_lite_aclk] \
    [ednn_pin dma_weights1/m_axi_sg_aclk] \
    [ednn_pin dma_weights1/m_axi_mm2s_aclk] \
    [ednn_pin dma_act0/s_axi_lite_aclk] \
    [ednn_pin dma_act0/m_axi_sg_aclk] \
    [ednn_pin dma_act0/m_axi_mm2s_aclk] \
    [ednn_pin dma_act0/m_axi_s2mm_aclk] \
    [ednn_pin dma_act1/s_axi_lite_aclk] \
    [ednn_pin dma_act1/m_axi_sg_aclk] \
    [ednn_pin dma_act1/m_axi_mm2s_aclk] \
    [ednn_pin dma_act1/m_axi_s2mm_aclk] \
    [ednn_pin dma_cmd/s_axi_lite_aclk] \
    [ednn_pin dma_cmd/m_axi_sg_aclk] \
    [ednn_pin dma_cmd/m_axi_mm2s_aclk] \
    [ednn_pin axi_intc/s_axi_aclk] \
    [ednn_pin ctrl_hpm0_fpd/aclk] \
    [ednn_pin mem_hp0/aclk] \
    [ednn_pin mem_hp1/aclk] \
    [ednn_pin mem_hp2/aclk] \
    [ednn_pin mem_hp3/aclk] \
    [ednn_pin mem_hpc0/aclk]
connect_bd_net -net fabric_resetn [ednn_pin fabric_reset/peripheral_aresetn] \
    [ednn_pin engine/ap_rst_n] \
    [ednn_pin dma_weights0/axi_resetn] \
    [ednn_pin dma_weights1/axi_resetn] \
    [ednn_pin dma_act0/axi_resetn] \
    [ednn_pin dma_act1/axi_resetn] \
    [ednn_pin dma_cmd/axi_resetn] \
    [ednn_pin axi_intc/s_axi_aresetn]
connect_bd_net -net interconnect_resetn [ednn_pin fabric_reset/interconnect_aresetn] \
    [ednn_pin ctrl_hpm0_fpd/aresetn] \
    [ednn_pin mem_hp0/aresetn] \
    [ednn_pin mem_hp1/aresetn] \
    [ednn_pin mem_hp2/aresetn] \
    [ednn_pin mem_hp3/aresetn] \
    [ednn_pin mem_hpc0/aresetn]
connect_bd_net -net irq0 [ednn_pin engine/irq] \
    [ednn_pin irq_concat/In0]
connect_bd_net -net irq1 [ednn_pin dma_weights0/mm2s_introut] \
    [ednn_pin irq_concat/In1]
connect_bd_net -net irq2 [ednn_pin dma_weights1/mm2s_introut] \
    [ednn_pin irq_concat/In2]
connect_bd_net -net irq3 [ednn_pin dma_act0/mm2s_introut] \
    [ednn_pin irq_concat/In3]
connect_bd_net -net irq4 [ednn_pin dma_act0/s2mm_introut] \
    [ednn_pin irq_concat/In4]
connect_bd_net -net irq5 [ednn_pin dma_act1/mm2s_introut] \
    [ednn_pin irq_concat/In5]
connect_bd_net -net irq6 [ednn_pin dma_act1/s2mm_introut] \
    [ednn_pin irq_concat/In6]
connect_bd_net -net irq7 [ednn_pin dma_cmd/mm2s_introut] \
    [ednn_pin irq_concat/In7]
connect_bd_net -net irq_unused [ednn_pin irq_zero/dout] \
    [ednn_pin irq_concat/In8] \
    [ednn_pin irq_concat/In9] \
    [ednn_pin irq_concat/In10] \
    [ednn_pin irq_concat/In11] \
    [ednn_pin irq_concat/In12] \
    [ednn_pin irq_concat/In13] \
    [ednn_pin irq_concat/In14] \
    [ednn_pin irq_concat/In15] \
    [ednn_pin irq_concat/In16] \
    [ednn_pin irq_concat/In17] \
    [ednn_pin irq_concat/In18] \
    [ednn_pin irq_concat/In19] \
    [ednn_pin irq_concat/In20] \
    [ednn_pin irq_concat/In21] \
    [ednn_pin irq_concat/In22] \
    [ednn_pin irq_concat/In23] \
    [ednn_pin irq_concat/In24] \
    [ednn_pin irq_concat/In25] \
    [ednn_pin irq_concat/In26] \
    [ednn_pin irq_concat/In27] \
    [ednn_pin irq_concat/In28] \
    [ednn_pin irq_concat/In29] \
    [ednn_pin irq_concat/In30] \
    [ednn_pin irq_concat/In31]
connect_bd_net -net intc_inputs [ednn_pin irq_concat/dout] \
    [ednn_pin axi_intc/intr]
connect_bd_net -net intc_irq [ednn_pin axi_intc/irq] \
    [ednn_pin ps/pl_ps_irq0]

# ---- Interface nets: control
connect_bd_intf_net [ednn_intf ps/M_AXI_HPM0_FPD] [ednn_intf ctrl_hpm0_fpd/S00_AXI]
connect_bd_intf_net [ednn_intf ctrl_hpm0_fpd/M00_AXI] [ednn_intf engine/s_axi_control]
connect_bd_intf_net [ednn_intf ctrl_hpm0_fpd/M01_AXI] [ednn_intf dma_weights0/S_AXI_LITE]
connect_bd_intf_net [ednn_intf ctrl_hpm0_fpd/M02_AXI] [ednn_intf dma_weights1/S_AXI_LITE]
connect_bd_intf_net [ednn_intf ctrl_hpm0_fpd/M03_AXI] [ednn_intf dma_act0/S_AXI_LITE]
connect_bd_intf_net [ednn_intf ctrl_hpm0_fpd/M04_AXI] [ednn_intf dma_act1/S_AXI_LITE]
connect_bd_intf_net [ednn_intf ctrl_hpm0_fpd/M05_AXI] [ednn_intf dma_cmd/S_AXI_LITE]
connect_bd_intf_net [ednn_intf ctrl_hpm0_fpd/M06_AXI] [ednn_intf axi_intc/s_axi]
# ---- Interface nets: streams (DMA MM2S -> engine, engine -> DMA S2MM)
connect_bd_intf_net [ednn_intf dma_cmd/M_AXIS_MM2S] [ednn_intf engine/cmd]
connect_bd_intf_net [ednn_intf dma_weights0/M_AXIS_MM2S] [ednn_intf engine/weights_0]
connect_bd_intf_net [ednn_intf dma_weights1/M_AXIS_MM2S] [ednn_intf engine/weights_1]
connect_bd_intf_net [ednn_intf dma_act0/M_AXIS_MM2S] [ednn_intf engine/act_in_0]
connect_bd_intf_net [ednn_intf dma_act1/M_AXIS_MM2S] [ednn_intf engine/act_in_1]
connect_bd_intf_net [ednn_intf engine/act_out_0] [ednn_intf dma_act0/S_AXIS_S2MM]
connect_bd_intf_net [ednn_intf engine/act_out_1] [ednn_intf dma_act1/S_AXIS_S2MM]
# ---- Interface nets: DMA memory masters -> PS slave ports
connect_bd_intf_net [ednn_intf dma_weights0/M_AXI_SG] [ednn_intf mem_hp0/S00_AXI]
connect_bd_intf_net [ednn_intf dma_weights0/M_AXI_MM2S] [ednn_intf mem_hp0/S01_AXI]
connect_bd_intf_net [ednn_intf mem_hp0/M00_AXI] [ednn_intf ps/S_AXI_HP0_FPD]
connect_bd_intf_net [ednn_intf dma_weights1/M_AXI_SG] [ednn_intf mem_hp1/S00_AXI]
connect_bd_intf_net [ednn_intf dma_weights1/M_AXI_MM2S] [ednn_intf mem_hp1/S01_AXI]
connect_bd_intf_net [ednn_intf mem_hp1/M00_AXI] [ednn_intf ps/S_AXI_HP1_FPD]
connect_bd_intf_net [ednn_intf dma_act0/M_AXI_SG] [ednn_intf mem_hp2/S00_AXI]
connect_bd_intf_net [ednn_intf dma_act0/M_AXI_MM2S] [ednn_intf mem_hp2/S01_AXI]
connect_bd_intf_net [ednn_intf dma_act0/M_AXI_S2MM] [ednn_intf mem_hp2/S02_AXI]
connect_bd_intf_net [ednn_intf mem_hp2/M00_AXI] [ednn_intf ps/S_AXI_HP2_FPD]
connect_bd_intf_net [ednn_intf dma_act1/M_AXI_SG] [ednn_intf mem_hp3/S00_AXI]
connect_bd_intf_net [ednn_intf dma_act1/M_AXI_MM2S] [ednn_intf mem_hp3/S01_AXI]
connect_bd_intf_net [ednn_intf dma_act1/M_AXI_S2MM] [ednn_intf mem_hp3/S02_AXI]
connect_bd_intf_net [ednn_intf mem_hp3/M00_AXI] [ednn_intf ps/S_AXI_HP3_FPD]
connect_bd_intf_net [ednn_intf dma_cmd/M_AXI_SG] [ednn_intf mem_hpc0/S00_AXI]
connect_bd_intf_net [ednn_intf dma_cmd/M_AXI_MM2S] [ednn_intf mem_hpc0/S01_AXI]
connect_bd_intf_net [ednn_intf mem_hpc0/M00_AXI] [ednn_intf ps/S_AXI_HPC0_FPD]

# ---- Address map: [engine], [dma.*], [interrupts] windows; DMA masters see all DDR
assign_bd_address -offset 0x00A0000000 -range 0x00010000 -target_address_space [get_bd_addr_spaces ps/Data] [get_bd_addr_segs engine/s_axi_control/*] -force
assign_bd_address -offset 0x00A0010000 -range 0x00010000 -target_address_space [get_bd_addr_spaces ps/Data] [get_bd_addr_segs dma_weights0/S_AXI_LITE/*] -force
assign_bd_address -offset 0x00A0020000 -range 0x00010000 -target_address_space [get_bd_addr_spaces ps/Data] [get_bd_addr_segs dma_weights1/S_AXI_LITE/*] -force
assign_bd_address -offset 0x00A0030000 -range 0x00010000 -target_address_space [get_bd_addr_spaces ps/Data] [get_bd_addr_segs dma_act0/S_AXI_LITE/*] -force
assign_bd_address -offset 0x00A0040000 -range 0x00010000 -target_address_space [get_bd_addr_spaces ps/Data] [get_bd_addr_segs dma_act1/S_AXI_LITE/*] -force
assign_bd_address -offset 0x00A0050000 -range 0x00010000 -target_address_space [get_bd_addr_spaces ps/Data] [get_bd_addr_segs dma_cmd/S_AXI_LITE/*] -force
assign_bd_address -offset 0x00A0080000 -range 0x00010000 -target_address_space [get_bd_addr_spaces ps/Data] [get_bd_addr_segs axi_intc/s_axi/*] -force
assign_bd_address

validate_bd_design

# ---- Checks against overlay.toml
ednn_check_freq clocks/fabric_clk 300
ednn_check_cell axi_intc CONFIG.C_NUM_INTR_INPUTS 32

regenerate_bd_layout
save_bd_design
