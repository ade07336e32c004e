set terminal png size 900,540
set output 'jwt.png'
set title 'auth_jwt RS256 vs distinct tokens (verified cache: 1024)' noenhanced
set xlabel 'distinct tokens in turn'
set logscale x
set ylabel 'us'
set yrange [0:*]
set key outside bottom center horizontal
set grid
plot 'jwt.tsv' using 1:4 with linespoints lw 2 title 'CPU us per request' axes x1y1
