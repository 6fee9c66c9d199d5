# build.tcl (Vivado batch build: block design to bitstream): GENERATED FILE, DO NOT EDIT.
# Source: ultra96/overlay.toml (overlay 'ultra96' v2.0.0, xczu3eg-sbva484-1-e, board Ultra96)
# Configuration hash (sha256): 6c615c5cd7bf3de8738b0bc7ef6a466eb374c91375ce4154d1f3cb052735f81c
# Regenerate with `python tools/gen_overlay_build.py`; CI runs it with --check.
# Written for Vivado / Vitis HLS 2025.2; see overlays/README.md.
# vivado -mode batch -source build.tcl [-tclargs JOBS]; needs hls/edge_dnn_engine from hls.tcl.
# Results: out/edge_dnn_ultra96.bit and out/edge_dnn_ultra96.hwh (the names the runtime loads).

set tool_version 2025.2
if {[version -short] ne $tool_version} {
    puts "CRITICAL WARNING: edge-dnn: scripts written for Vivado $tool_version, running [version -short]"
}
set here [file normalize [file dirname [info script]]]
set jobs 4
if {$argc > 0} {
    set jobs [lindex $argv 0]
}
set design edge_dnn_ultra96
set part {xczu3eg-sbva484-1-e}
set engine_ip_dir [file join $here hls edge_dnn_engine sol impl ip]
set out_dir [file join $here out]

create_project -force $design [file join $here vivado] -part $part
# Board part of the Ultra96 (its PS preset: DDR, MIO, clocks); $EDNN_BOARD_PART overrides.
set board_part ""
if {[info exists ::env(EDNN_BOARD_PART)]} {
    set board_part $::env(EDNN_BOARD_PART)
} else {
    foreach pattern [list avnet.com:ultra96v2:part0:* em.avnet.com:ultra96v2:part0:* em.avnet.com:ultra96v1:part0:* *:ultra96*:part0:*] {
        set found [get_board_parts -quiet -latest_file_version $pattern]
        if {[llength $found] > 0} {
            set board_part [lindex $found end]
            break
        }
    }
}
if {$board_part eq ""} {
    error "edge-dnn: no Vivado board files for the Ultra96 (avnet.com:ultra96v2:part0:* em.avnet.com:ultra96v2:part0:* em.avnet.com:ultra96v1:part0:* *:ultra96*:part0:*); install them or set EDNN_BOARD_PART"
}
set_property board_part $board_part [current_project]

set_property ip_repo_paths [list $engine_ip_dir] [current_project]
update_ip_catalog
if {[llength [get_ipdefs -quiet edge-dnn.org:hls:edge_dnn_engine:1.0]] == 0} {
    error "edge-dnn: IP edge-dnn.org:hls:edge_dnn_engine:1.0 not found in $engine_ip_dir; run hls.tcl (make hls) first"
}

source [file join $here bd.tcl]
set bd_file [get_files $design.bd]
generate_target all $bd_file
add_files -norecurse [make_wrapper -files $bd_file -top]
set_property top ${design}_wrapper [current_fileset]

launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
    error "edge-dnn: implementation of $design failed"
}
open_run impl_1
set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]
if {$wns < 0} {
    error "edge-dnn: $design misses timing (WNS $wns ns)"
}

file mkdir $out_dir
set bit [glob -directory [get_property DIRECTORY [get_runs impl_1]] *.bit]
file copy -force [lindex $bit 0] [file join $out_dir edge_dnn_ultra96.bit]
set hwh [glob -nocomplain -directory [file join $here vivado] -types f */sources_1/bd/$design/hw_handoff/$design.hwh]
if {[llength $hwh] == 0} {
    error "edge-dnn: no hardware handoff $design.hwh was written"
}
file copy -force [lindex $hwh 0] [file join $out_dir edge_dnn_ultra96.hwh]
puts "edge-dnn: wrote $out_dir/edge_dnn_ultra96.bit and $out_dir/edge_dnn_ultra96.hwh"
