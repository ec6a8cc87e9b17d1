# joulebench plot: power over time with the benchmark phases as coloured bands.
# usage: gnuplot -c scripts/plot-power-timeline.gp POWER.dat OUTBASE "TITLE" ESTIMATED(0|1) [PHASES.dat CODES]
#   POWER.dat:  t_s  power_w [low_w high_w]  (power from successive cumulative energy samples;
#               an estimate with a range adds its power at the low and high coefficients)
#   PHASES.dat: t0_s t1_s code "name"  (code 1 prefill, 2 decode, 3 warmup, 4 idle, 5 cooldown)
#   CODES: the phase codes present in PHASES.dat as digits (e.g. "1234"); the legend lists those
# Writes OUTBASE.png and OUTBASE.svg.
if (ARGC < 4) { print "usage: gnuplot -c plot-power-timeline.gp POWER.dat OUTBASE TITLE ESTIMATED [PHASES.dat]"; exit status 2 }
png_term = (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) ? "pngcairo" : "png"
eval("set terminal ".png_term." size 1000,520 font 'sans,10'")
set output ARG2.".png"
set title ARG3 noenhanced
set xlabel "time since the first sample (s)"
set ylabel "power (W)"
set grid ytics
set key outside right top
set style fill solid 0.25 noborder
stats ARG1 using 2 nooutput
ymax = STATS_max > 0 ? STATS_max * 1.15 : 1
stats ARG1 using 0 nooutput
band = 0
if (STATS_columns >= 4) { band = 1; stats ARG1 using 4 nooutput; ymax = STATS_max > 0 ? STATS_max * 1.15 : ymax }
range_plot = band ? sprintf("'%s' using 1:3:4 with filledcurves lc rgb '#f4a6a6' fs transparent solid 0.5 title 'estimate range (low-high coefficients)', ", ARG1) : ""
set yrange [0:ymax]
if (int(ARG4)) { set label 1 "ESTIMATED power (a model, not a measurement)" at graph 0.5, 0.95 center textcolor rgb "#c00000" font ",13" front }
phases = (ARGC >= 5) ? ARG5 : ""
set linetype 11 lc rgb "#1f77b4"
set linetype 12 lc rgb "#2ca02c"
set linetype 13 lc rgb "#ff7f0e"
set linetype 14 lc rgb "#9e9e9e"
set linetype 15 lc rgb "#9467bd"
codes = (ARGC >= 6) ? ARG6 : "12345"
if (phases ne "") {
  cmd = "plot phases using (($1+$2)/2):(ymax/2):(($2-$1)/2):(ymax/2):($3+10) with boxxyerror lc variable notitle"
  if (strstrt(codes, "1")) { cmd = cmd . ", keyentry with boxes lc 11 title 'prefill'" }
  if (strstrt(codes, "2")) { cmd = cmd . ", keyentry with boxes lc 12 title 'decode'" }
  if (strstrt(codes, "3")) { cmd = cmd . ", keyentry with boxes lc 13 title 'warm-up'" }
  if (strstrt(codes, "4")) { cmd = cmd . ", keyentry with boxes lc 14 title 'idle'" }
  if (strstrt(codes, "5")) { cmd = cmd . ", keyentry with boxes lc 15 title 'cool-down'" }
  cmd = cmd . ", " . range_plot . "ARG1 using 1:2 with steps lw 1.5 lc rgb 'black' title 'power (W)'"
} else {
  cmd = "plot " . range_plot . "ARG1 using 1:2 with steps lw 1.5 lc rgb 'black' title 'power (W)'"
}
eval(cmd)
set terminal svg size 1000,520 dynamic font 'sans,10'
set output ARG2.".svg"
eval(cmd)
unset output
