# joulebench plot: achieved memory bandwidth against the bandwidth bound measured on the same
# machine, and (for runs) decode tokens/s against the tokens/s that bound allows.
# usage: gnuplot -c scripts/plot-roofline.gp DATA.dat OUTBASE "TITLE" HAS_TOKENS(0|1)
#   DATA.dat: idx "label" achieved_gb_s bound_gb_s tok_s bound_tok_s   ("?" = not applicable)
#   achieved = bytes streamed per token x decode tok/s (runs) or a kernel's GB/s (kernels);
#   bound_tok_s = bound_gb_s / bytes streamed per token. Rows without a bound are not written.
# Writes OUTBASE.png and OUTBASE.svg.
if (ARGC < 4) { print "usage: gnuplot -c plot-roofline.gp DATA.dat OUTBASE TITLE HAS_TOKENS"; exit status 2 }
has_tok = int(ARG4)
set datafile missing "?"
set style fill solid 0.75 border -1
set style data histograms
set style histogram clustered gap 1
set yrange [0:*]
set grid ytics
set xtics rotate by -25 noenhanced
set bmargin 9
set offsets 0, 0, graph 0.08, 0
set key top left Left reverse samplen 2
set linetype 31 lc rgb "#1f77b4"
set linetype 32 lc rgb "#bdbdbd"
# the percentage of the bound above each achieved bar
pct(a, b) = (b > 0) ? sprintf("%.0f%%", 100.0 * a / b) : ""
gbs = "set title (has_tok ? 'Memory bandwidth' : ARG3) noenhanced; set ylabel 'GB/s'; " . \
      "plot ARG1 using 3:xtic(2) lt 31 title 'achieved', '' using 4 lt 32 title 'measured bound (same machine)', " . \
      "'' using ($1-0.13):3:(pct($3,$4)) with labels offset 0,0.7 font ',9' notitle"
tok = "set title 'Decode speed' noenhanced; set ylabel 'tokens/s'; " . \
      "plot ARG1 using 5:xtic(valid(5) ? strcol(2) : '') lt 31 title 'achieved', '' using 6 lt 32 title 'bandwidth-bound tokens/s', " . \
      "'' using ($1-0.13):5:(pct($5,$6)) with labels offset 0,0.7 font ',9' notitle"
draw = has_tok ? "set multiplot layout 1,2 title ARG3 noenhanced; " . gbs . "; " . tok . "; unset multiplot" : gbs
png_term = (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) ? "pngcairo" : "png"
eval("set terminal ".png_term." size 1000,540 font 'sans,10'")
set output ARG2.".png"
eval(draw)
set terminal svg size 1000,540 dynamic font 'sans,10'
set output ARG2.".svg"
eval(draw)
unset output
