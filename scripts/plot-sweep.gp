# joulebench plot: tokens/s and J/token against one swept setting (threads, weight type or
# prompt length), the other settings held at the headline configuration's.
# usage: gnuplot -c scripts/plot-sweep.gp DATA.dat OUTBASE "TITLE" ESTIMATED(0|1) HAS_ENERGY(0|1)
#                   "XLABEL" PHASE(decode|prefill) CATEGORICAL(0|1) [LOGX(0|1)]
#   DATA.dat: x "label" tok_s tok_s_low tok_s_high j_per_token low high   ("?" = not measured)
#   x is the setting itself (threads, prompt tokens, concurrent streams) or, when CATEGORICAL,
#   the row index; LOGX draws x on a log2 scale (prompt lengths, concurrency levels).
#   A second data block (after two blank lines), written for a concurrency sweep, holds bands:
#     x_mid j low_x high_x j_low j_high "label"   (one cloud profile's J/token, low..high)
#   drawn shaded across the levels on the J/token axis, which is then a log scale.
# Writes OUTBASE.png and OUTBASE.svg.
if (ARGC < 8) { print "usage: gnuplot -c plot-sweep.gp DATA.dat OUTBASE TITLE ESTIMATED HAS_ENERGY XLABEL PHASE CATEGORICAL"; exit status 2 }
has_energy = int(ARG5)
phase = ARG7
categorical = (ARGC >= 8) ? int(ARG8) : 0
set title ARG3 noenhanced
set datafile missing "?"
stats ARG1 using 1 nooutput
bands = has_energy && STATS_blocks > 1
set xlabel ARG6 noenhanced
set ylabel phase." tokens/s"
set ytics nomirror
set offsets graph 0.05, graph 0.05, 0, 0
set grid
set key below
set yrange [0:*]
set xtics noenhanced
if (categorical) { set xtics rotate by -25 }
if (ARGC >= 9 && int(ARG9)) { set logscale x 2 }
tok = sprintf("ARG1 index 0 using 1:3:4:5:xtic(2) with yerrorlines lw 2 pt 7 lc rgb '#1f77b4' title '%s tok/s (median, 95%% CI)'", phase)
if (has_energy) {
  set y2label (int(ARG4) ? sprintf("J per %s token (gross) - ESTIMATED", phase) : sprintf("J per %s token (gross)", phase)).(bands ? " (log scale)" : "")
  set y2tics
  if (bands) { set logscale y2; set y2range [*:*] } else { set y2range [0:*] }
  if (int(ARG4)) { set label 1 "energy ESTIMATED (a model, not a measurement)" at graph 0.5, 0.95 center textcolor rgb "#c00000" font ",13" front }
  band = "ARG1 index 1 using 1:2:3:4:5:6 axes x1y2 with boxxyerror fs transparent solid 0.15 noborder lc rgb '#9467bd' title 'cloud-equivalent J/token (low-high, one band per profile)', ARG1 index 1 using 3:2:7 axes x1y2 with labels left offset char 0.5,0 font ',8' textcolor rgb '#6a3d9a' noenhanced notitle, "
  cmd = "plot " . (bands ? band : "") . tok . sprintf(", ARG1 index 0 using 1:6:7:8 axes x1y2 with yerrorlines lw 2 pt 5 dt 2 lc rgb '#d62728' title 'J/%s token (median, 95%% CI)'", phase)
} else {
  set label 2 "no energy figures in this result" at graph 0.98, 0.05 right font ",10"
  cmd = "plot " . tok
}
png_term = (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) ? "pngcairo" : "png"
eval("set terminal ".png_term." size 900,520 font 'sans,10'")
set output ARG2.".png"
eval(cmd)
set terminal svg size 900,520 dynamic font 'sans,10'
set output ARG2.".svg"
eval(cmd)
unset output
