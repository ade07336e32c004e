set terminal png size 900,540
set output 'json-kept.png'
set title 'JSON trimming of the 1 MB catalogue vs fraction kept' noenhanced
set xlabel 'bytes kept (%)'
set ylabel 'us'
set yrange [0:*]
set key outside bottom center horizontal
set grid
plot 'json-kept.tsv' using 1:3 with linespoints lw 2 title 'CPU us per request' axes x1y1
