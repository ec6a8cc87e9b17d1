# joulebench plot: aggregate tokens/s and J/token against concurrent streams (an external engine's sweep).
# usage: gnuplot -c scripts/plot-sweep.gp DATA.dat OUTBASE "TITLE" ESTIMATED(0|1) [HAS_ENERGY(0|1)]
#   DATA.dat: concurrency tok_s tok_s_low tok_s_high j_per_token low high   ("?" = not measured)
# Writes OUTBASE.png and OUTBASE.svg.
if (ARGC < 4) { print "usage: gnuplot -c plot-sweep.gp DATA.dat OUTBASE TITLE ESTIMATED [HAS_ENERGY]"; exit status 2 }
has_energy = (ARGC >= 5) ? int(ARG5) : 1
png_term = (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) ? "pngcairo" : "png"
eval("set terminal ".png_term." size 900,520 font 'sans,10'")
set output ARG2.".png"
set title ARG3 noenhanced
set datafile missing "?"
set xlabel "concurrent streams"
set ylabel "aggregate tokens/s"
set y2label (int(ARG4) ? "J per token (whole level, gross) - ESTIMATED" : "J per token (whole level, gross)")
set ytics nomirror
set y2tics
set logscale x 2
set offsets graph 0.03, graph 0.03, 0, 0
set grid
set key top left
set yrange [0:*]
set y2range [0:*]
if (int(ARG4)) { set label 1 "energy ESTIMATED (a model, not a measurement)" at graph 0.5, 0.95 center textcolor rgb "#c00000" font ",13" front }
if (has_energy) {
  plot ARG1 using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb "#1f77b4" title "aggregate tok/s", \
       ARG1 using 1:5:6:7 axes x1y2 with yerrorlines lw 2 pt 5 dt 2 lc rgb "#d62728" title "J/token"
} else {
  unset y2tics
  unset y2label
  set label 2 "no energy figures in this result" at graph 0.98, 0.05 right font ",10"
  plot ARG1 using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb "#1f77b4" title "aggregate tok/s"
}
set terminal svg size 900,520 dynamic font 'sans,10'
set output ARG2.".svg"
replot
unset output
