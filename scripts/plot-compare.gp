# joulebench plot: machines/configurations side by side - decode tokens/s and tokens per joule.
# usage: gnuplot -c scripts/plot-compare.gp DATA.dat OUTBASE "TITLE" ANY_ESTIMATED(0|1) [HAS_ENERGY(0|1) ANY_MEASURED(0|1)]
#   the legend lists measured and ESTIMATED tokens/J only when such bars are drawn
#   DATA.dat: idx "label" tok_s tokens_per_j estimated(0|1)   ("?" = not measured)
# Writes OUTBASE.png and OUTBASE.svg.
if (ARGC < 4) { print "usage: gnuplot -c plot-compare.gp DATA.dat OUTBASE TITLE ESTIMATED [HAS_ENERGY]"; exit status 2 }
has_energy = (ARGC >= 5) ? int(ARG5) : 1
any_measured = (ARGC >= 6) ? int(ARG6) : has_energy
png_term = (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) ? "pngcairo" : "png"
eval("set terminal ".png_term." size 1000,560 font 'sans,10'")
set output ARG2.".png"
set title ARG3 noenhanced
set datafile missing "?"
set style fill solid 0.7 border -1
set boxwidth 0.35
set ylabel "decode tokens/s"
set y2label "tokens per joule (decode, net)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set grid ytics
set xtics rotate by -25 noenhanced
set key outside top center horizontal
if (int(ARG4)) { set label 1 "hatched = energy ESTIMATED (a model, not a measurement)" at graph 0.5, 0.95 center textcolor rgb "#c00000" font ",12" front }
cmd = "plot ARG1 using ($1-0.2):3:xtic(2) with boxes lc rgb '#1f77b4' title 'decode tok/s'"
if (has_energy) {
  if (any_measured) { cmd = cmd . ", ARG1 using ($1+0.2):($5 > 0.5 ? 1/0 : $4) axes x1y2 with boxes lc rgb '#2ca02c' title 'tokens/J (measured)'" }
  if (int(ARG4)) { cmd = cmd . ", ARG1 using ($1+0.2):($5 > 0.5 ? $4 : 1/0) axes x1y2 with boxes fs pattern 4 border lc rgb '#d62728' title 'tokens/J (ESTIMATED)'" }
} else {
  unset y2tics
  unset y2label
  set label 2 "no energy figures in these results" at graph 0.98, 0.95 right font ",10"
  cmd = "plot ARG1 using 1:3:xtic(2) with boxes lc rgb '#1f77b4' title 'decode tok/s'"
}
eval(cmd)
set terminal svg size 1000,560 dynamic font 'sans,10'
set output ARG2.".svg"
eval(cmd)
unset output
