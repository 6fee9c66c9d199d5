# hls.tcl (Vitis HLS: engine C synthesis and IP export): GENERATED FILE, DO NOT EDIT.
# Source: ultra96/overlay.toml (overlay 'ultra96' v2.0.0, xczu3eg-sbva484-1-e, board Ultra96)
# Configuration hash (sha256): 6c615c5cd7bf3de8738b0bc7ef6a466eb374c91375ce4154d1f3cb052735f81c
# Regenerate with `python tools/gen_overlay_build.py`; CI runs it with --check.
# Written for Vivado / Vitis HLS 2025.2; see overlays/README.md.
# Run from anywhere: vitis_hls -f hls.tcl (or vitis-run --mode hls --tcl hls.tcl);
# the IP lands in hls/edge_dnn_engine/sol/impl/ip as edge-dnn.org:hls:edge_dnn_engine:1.0.

set here [file normalize [file dirname [info script]]]
set common [file normalize [file join $here .. .. _common]]
set hls_src [file join $common hls]
set includes [list [file normalize [file join $here .. generated]] [file join $common generated] $hls_src]
set cflags ""
foreach dir $includes {
    append cflags " -I$dir"
}

# Engine sources: every .cpp of overlays/_common/hls except testbenches.
set tb_patterns [list *_tb.cpp tb_*.cpp test_*.cpp *_test.cpp]
set design_sources [list]
set tb_sources [list]
foreach f [lsort [glob -nocomplain -directory $hls_src *.cpp]] {
    set is_tb 0
    foreach pattern $tb_patterns {
        if {[string match $pattern [file tail $f]]} {
            set is_tb 1
        }
    }
    if {$is_tb} {
        lappend tb_sources $f
    } else {
        lappend design_sources $f
    }
}
if {[llength $design_sources] == 0} {
    error "edge-dnn: no HLS source (*.cpp) in $hls_src"
}

file mkdir [file join $here hls]
cd [file join $here hls]
open_project -reset edge_dnn_engine
set_top edge_dnn_engine
foreach f $design_sources {
    add_files $f -cflags $cflags
}
foreach f $tb_sources {
    add_files -tb $f -cflags $cflags
}
open_solution -reset -flow_target vivado sol
set_part {xczu3eg-sbva484-1-e}
# Engine clock = clocks.fabric_mhz (250 MHz).
create_clock -period 4.000 -name default
config_export -format ip_catalog -rtl verilog -vendor edge-dnn.org -library hls -ipname edge_dnn_engine -version 1.0 -display_name {edge-dnn engine}
csynth_design
export_design -format ip_catalog
exit
