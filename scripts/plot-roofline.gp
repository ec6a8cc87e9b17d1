# joulebench plot: achieved memory bandwidth against the measured bandwidth bound.
# usage: gnuplot -c scripts/plot-roofline.gp DATA.dat OUTBASE "TITLE"
#   DATA.dat: idx "label" achieved_gb_s bound_gb_s   (bound "?" when not measured)
#   achieved = bytes streamed per token x decode tok/s (runs) or a kernel's GB/s (kernels)
# Writes OUTBASE.png and OUTBASE.svg.
if (ARGC < 3) { print "usage: gnuplot -c plot-roofline.gp DATA.dat OUTBASE TITLE"; exit status 2 }
png_term = (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) ? "pngcairo" : "png"
eval("set terminal ".png_term." size 1000,540 font 'sans,10'")
set output ARG2.".png"
set title ARG3 noenhanced
set datafile missing "?"
set style fill solid 0.7 border -1
set boxwidth 0.6
set ylabel "GB/s"
set yrange [0:*]
set grid ytics
set xtics rotate by -25 noenhanced
set key outside top center horizontal
plot ARG1 using 1:3:xtic(2) with boxes lc rgb "#1f77b4" title "achieved bandwidth", \
     ARG1 using 1:4:(0.35) with xerrorbars lw 2 pt 9 ps 1.2 lc rgb "#d62728" title "measured bandwidth bound (same machine)"
set terminal svg size 1000,540 dynamic font 'sans,10'
set output ARG2.".svg"
replot
unset output
