set terminal png size 900,540
set output 'api-keys.png'
set title 'auth_api_key vs key-table size' noenhanced
set xlabel 'keys in the file'
set logscale x
set ylabel 'us'
set yrange [0:*]
set y2label 'MB'
set y2range [0:*]
set y2tics
set ytics nomirror
set key outside bottom center horizontal
set grid
plot 'api-keys.tsv' using 1:4 with linespoints lw 2 title '+us per lookup' axes x1y1, 'api-keys.tsv' using 1:6 with linespoints lw 2 title 'worker RSS (MB)' axes x1y2
