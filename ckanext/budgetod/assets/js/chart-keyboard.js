/* Keyboard reading of an ECharts chart, shared by the budget view and a budget's page across the
 * years: the arrow keys walk the drawn values (tooltip and highlight) and ``describe(point)`` is
 * announced in the ``live`` region; Escape and leaving the chart hide the tooltip. A point is
 * {seriesIndex, dataIndex, series (its name), item (the data item, with its exact value)}. */
window.budgetodChartKeyboard = function (container, chart, allSeries, live, describe) {
  'use strict';
  var points = [];
  allSeries.forEach(function (series, seriesIndex) {
    series.data.forEach(function (item, dataIndex) {
      if (item && item !== '-' && item.exact !== undefined) {
        points.push({seriesIndex: seriesIndex, dataIndex: dataIndex, series: series.name, item: item});
      }
    });
  });
  var current = -1;
  container.on('keydown', function (event) {
    var step = {ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1}[event.key];
    if (event.key === 'Escape') {
      chart.dispatchAction({type: 'hideTip'});
      return;
    }
    if (!step || !points.length) {
      return;
    }
    event.preventDefault();
    if (current >= 0) {
      chart.dispatchAction({type: 'downplay', seriesIndex: points[current].seriesIndex,
                            dataIndex: points[current].dataIndex});
    }
    current = (current + step + points.length) % points.length;
    var point = points[current];
    chart.dispatchAction({type: 'highlight', seriesIndex: point.seriesIndex, dataIndex: point.dataIndex});
    chart.dispatchAction({type: 'showTip', seriesIndex: point.seriesIndex, dataIndex: point.dataIndex});
    live.text(describe(point));
  });
  container.on('blur', function () { chart.dispatchAction({type: 'hideTip'}); });
};
