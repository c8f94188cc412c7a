// What the dashboard's scripts find on the page besides themselves: the chart library, loaded by a
// classic <script> before the modules (index.html, embed.html).
interface Window {
  echarts: typeof import('echarts');
}
