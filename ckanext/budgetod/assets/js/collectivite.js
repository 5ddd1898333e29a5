/*
 * budgetod-collectivite: draws the charts of a budget's page across the years (/budgets/<siret>).
 *
 * Each figure of the page carries its chart's data as JSON, built on the server from the same rows
 * as its table (view/collectivite_page.py), and keeps its table below the chart. Chart kinds:
 * - "years": one value per exercice, as stacked bars ("bars") or lines (a line of a chapter the
 *   crosswalk does not compare across a change of nomenclature, or of a function, stops at the change:
 *   the server splits it into separate series);
 * - "peers": per section and direction, this budget's line, the peers' median and their range;
 * - "bars": horizontal bars by category (ratios against national averages, voted against realised).
 * Every change of nomenclature among the years ("breaks") is marked by a labelled vertical line.
 * A chart takes the keyboard focus; the arrow keys go through its values, which are announced
 * (screen readers) and shown in the tooltip. Each chart gets a button downloading it as PNG. When
 * every chart is drawn the module sets data-budgetod-drawn="true" on its element and the
 * performance mark "budgetod-collectivite-drawn".
 */
this.ckan.module('budgetod-collectivite', function ($) {
  'use strict';

  var PALETTE = ['#1f4e9c', '#b8470f', '#2e7d32', '#8e24aa', '#00838f', '#c62828', '#6d4c41',
                 '#f9a825', '#455a64', '#ad1457'];
  var TONES = {
    'fonctionnement-recette-réel': '#1f4e9c', 'fonctionnement-recette-ordre': '#8fb3e8',
    'investissement-recette-réel': '#00838f', 'investissement-recette-ordre': '#80cbc4',
    'fonctionnement-dépense-réel': '#b8470f', 'fonctionnement-dépense-ordre': '#f2b48f',
    'investissement-dépense-réel': '#8e24aa', 'investissement-dépense-ordre': '#ce93d8',
    own: '#1f4e9c', reference: '#7a7a7a', median: '#333333', range: '#b0bec5'
  };
  var BREAK_SERIES = 'budgetod-breaks';
  var BAR_ROW_HEIGHT = 26;

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (character) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[character];
    });
  }

  /* A drawn value keeps its exact decimal string for the tooltip, the keyboard and the table. */
  function point(exact, category) {
    return exact === null || exact === undefined ? '-' : {value: Number(exact), exact: exact, category: category};
  }

  return {
    initialize: function () {
      $.proxyAll(this, /_on/);
      var english = (document.documentElement.lang || '').indexOf('en') === 0;
      this.locale = english ? 'en-GB' : 'fr-FR';
      this.currency = new Intl.NumberFormat(this.locale, {style: 'currency', currency: 'EUR'});
      this.compact = new Intl.NumberFormat(this.locale, {
        style: 'currency', currency: 'EUR', notation: 'compact', maximumFractionDigits: 1
      });
      this.percent = new Intl.NumberFormat(this.locale, {style: 'percent', maximumFractionDigits: 2});
      this.fontFamily = window.getComputedStyle(this.el[0]).fontFamily;
      this.charts = [];
      var figures = this.el.find('[data-budgetod-chart]');
      if (typeof window.echarts === 'undefined') {
        this.el.find('.budgetod-view-status').text(
          this._('The charts could not be drawn: the tables below give the same figures.'));
        return;
      }
      // In three passes, so that the page (thousands of table cells) is laid out about once rather
      // than once per chart: read every chart's width, then size every chart's place, then draw.
      var widths = figures.map(function (index, figure) {
        return $(figure).find('.budgetod-chart').parent().width();
      }).get();
      var drawings = figures.map(function (index, figure) {
        return this._placeChart($(figure), widths[index]);
      }.bind(this)).get();
      this.pending = drawings.length;
      drawings.forEach(this._drawChart, this);
      if (!figures.length) {
        this._onAllDrawn();
      }
      $(window).on('resize', this._onResize);
    },

    formatAmount: function (exact) {
      return this.currency.format(exact);
    },

    formatValue: function (exact, unit) {
      return unit === 'percent' ? exact + ' %' : this.formatAmount(exact);
    },

    /* ------------------------------------------------------------ chart options */

    baseOption: function (series, legend) {
      return {
        // A page of a dozen charts: drawn at once, without animation (nor motion to reduce).
        animation: false,
        aria: {enabled: false},
        textStyle: {fontFamily: this.fontFamily},
        legend: {type: 'scroll', top: 0, data: legend},
        tooltip: {trigger: 'item', confine: true, transitionDuration: 0, className: 'budgetod-tooltip',
                  formatter: this._onTooltip},
        series: series
      };
    },

    /* The years of each nomenclature after a change, shaded and labelled, carried by a series of
       their own (hiding a series in the legend must not hide the breaks). */
    breakSeries: function (spec, axisIndex, short) {
      var starts = spec.breaks.map(function (item) { return spec.categories.indexOf(item.category); });
      return {
        id: BREAK_SERIES + '-' + (axisIndex || 0), name: BREAK_SERIES, type: 'line', data: [], silent: true,
        xAxisIndex: axisIndex || 0, yAxisIndex: axisIndex || 0,
        markArea: {
          silent: true,
          itemStyle: {color: 'rgba(255, 193, 7, 0.16)', borderColor: '#8a6d00', borderWidth: 1, borderType: 'dashed'},
          label: {show: true, position: 'insideTopLeft', color: '#5c4800', fontWeight: 'bold'},
          data: spec.breaks.map(function (item, index) {
            var end = index + 1 < starts.length ? starts[index + 1] - 1 : spec.categories.length - 1;
            return [{name: short ? item.short : item.label, xAxis: item.category}, {xAxis: spec.categories[end]}];
          })
        }
      };
    },

    /* Room for a legend that wraps below the chart (its names may be long: chapters, functions). */
    legendRows: function (names, width) {
      var length = names.reduce(function (total, name) { return total + 40 + 6.5 * name.length; }, 0);
      return Math.max(1, Math.ceil(length / Math.max(width - 40, 200)));
    },

    yearsOption: function (spec, width) {
      var colours = {};
      var series = spec.series.map(function (item) {
        if (!colours[item.name]) {
          colours[item.name] = TONES[item.tone] || PALETTE[Object.keys(colours).length % PALETTE.length];
        }
        var drawn = {
          name: item.name, type: spec.bars ? 'bar' : 'line', itemStyle: {color: colours[item.name]},
          data: item.values.map(function (value, index) { return point(value, spec.categories[index]); })
        };
        if (spec.bars) {
          drawn.stack = item.stack;
        } else {
          drawn.connectNulls = false;
          drawn.symbolSize = 7;
          drawn.lineStyle = {color: colours[item.name], width: 2};
        }
        return drawn;
      });
      var legend = Object.keys(colours);
      if (spec.breaks.length) {
        series.push(this.breakSeries(spec));
      }
      var option = this.baseOption(series, legend);
      var legendHeight = 22 * this.legendRows(legend, width);
      option.legend = {type: 'plain', bottom: 0, left: 0, right: 0, data: legend};
      option.grid = {left: 8, right: 16, top: 16, bottom: legendHeight + 16, containLabel: true};
      option.xAxis = {type: 'category', data: spec.categories};
      option.yAxis = {type: 'value', axisLabel: {formatter: this._onCompactAmount}};
      option.height = 340 + legendHeight;
      return option;
    },

    peersOption: function (spec, width) {
      var self = this;
      var columns = spec.groups.length > 1 ? 2 : 1;
      var rows = Math.ceil(spec.groups.length / columns);
      var option = this.baseOption([], [spec.names.own, spec.names.median, spec.names.range]);
      option.title = [];
      option.grid = [];
      option.xAxis = [];
      option.yAxis = [];
      spec.groups.forEach(function (group, index) {
        var left = (index % columns) * (100 / columns);
        var top = 40 + Math.floor(index / columns) * 300;
        option.title.push({text: group.title, left: (left + 1) + '%', top: top - 4,
                           textStyle: {fontSize: 13, fontWeight: 'bold', fontFamily: self.fontFamily}});
        option.grid.push({left: (left + 1) + '%', width: (100 / columns - 4) + '%', top: top + 24, height: 220,
                          containLabel: true});
        option.xAxis.push({type: 'category', gridIndex: index, data: spec.categories, boundaryGap: false});
        option.yAxis.push({type: 'value', gridIndex: index, axisLabel: {formatter: self._onCompactAmount}});
        var axes = {xAxisIndex: index, yAxisIndex: index};
        var stack = 'range-' + index;
        option.series.push($.extend({
          name: spec.names.range, type: 'line', stack: stack, symbol: 'none', silent: true,
          lineStyle: {opacity: 0}, itemStyle: {color: TONES.range},
          data: group.min.map(function (value) { return value === null ? '-' : Number(value); })
        }, axes), $.extend({
          name: spec.names.range, type: 'line', stack: stack, symbol: 'none',
          lineStyle: {opacity: 0}, itemStyle: {color: TONES.range}, areaStyle: {color: TONES.range, opacity: 0.6},
          data: group.max.map(function (value, year) {
            return value === null ? '-' : {value: Number(value) - Number(group.min[year]), range: [group.min[year], value],
                                           category: spec.categories[year]};
          })
        }, axes), $.extend({
          name: spec.names.median, type: 'line', symbolSize: 6, itemStyle: {color: TONES.median},
          lineStyle: {type: 'dashed', color: TONES.median},
          data: group.median.map(function (value, year) { return point(value, spec.categories[year]); })
        }, axes), $.extend({
          name: spec.names.own, type: 'line', symbolSize: 8, itemStyle: {color: TONES.own},
          lineStyle: {width: 3, color: TONES.own},
          data: group.own.map(function (value, year) { return point(value, spec.categories[year]); })
        }, axes));
        if (spec.breaks.length) {
          option.series.push(self.breakSeries(spec, index, true));
        }
      });
      option.height = 40 + rows * 300;
      return option;
    },

    barsOption: function (spec, width) {
      var unit = spec.unit;
      var percent = this.percent;
      var series = spec.series.map(function (item) {
        return {
          name: item.name, type: 'bar', itemStyle: {color: TONES[item.tone]},
          // The execution rate at the end of each realised bar.
          label: item.rates ? {show: true, position: 'right', fontSize: 11, formatter: function (params) {
            return params.data.rate ? percent.format(Number(params.data.rate)) : '';
          }} : {show: false},
          data: item.values.map(function (value, index) {
            var drawn = point(value, spec.categories[index]);
            if (drawn !== '-') {
              drawn.unit = unit;
              drawn.rate = item.rates ? item.rates[index] : undefined;
            }
            return drawn;
          })
        };
      });
      var option = this.baseOption(series, series.map(function (item) { return item.name; }));
      option.grid = {left: 8, right: 56, top: 40, bottom: 8, containLabel: true};
      option.yAxis = {type: 'category', inverse: true, data: spec.categories,
                      axisLabel: {width: 300, overflow: 'truncate'}};
      option.xAxis = {type: 'value', axisLabel: {formatter: unit === 'percent' ? '{value} %' : this._onCompactAmount}};
      option.height = 64 + BAR_ROW_HEIGHT * spec.series.length * 0.75 * spec.categories.length;
      return option;
    },

    /* ------------------------------------------------------------ figures */

    /* A chart's option, and its place on the page sized and announced; nothing drawn yet. */
    _placeChart: function (figure, width) {
      var spec = JSON.parse(figure.find('.budgetod-chart-data').text());
      var container = figure.find('.budgetod-chart');
      var option = {years: this.yearsOption, peers: this.peersOption, bars: this.barsOption}[spec.type]
        .call(this, spec, width);
      var height = option.height;
      delete option.height;
      var title = figure.find('.budgetod-figure-title').text().trim();
      container.css('height', height + 'px').prop('hidden', false).attr({
        tabindex: 0,
        role: 'img',
        'aria-label': this._('%(title)s: chart; the table below gives its figures. Use the arrow keys to read its values one by one.', {title: title})
      });
      return {figure: figure, container: container, option: option, width: width, height: height};
    },

    _drawChart: function (drawing) {
      // The size given, not read from the page (see initialize).
      var chart = window.echarts.init(drawing.container[0], null,
                                      {renderer: 'svg', width: drawing.width, height: drawing.height});
      chart.on('finished', this._onFinished(chart));
      chart.setOption(drawing.option);
      this.charts.push(chart);
      this.addPngButton(drawing.figure, drawing.option, drawing.height);
      this.addKeyboard(drawing.container, chart, drawing.option.series, drawing.figure.find('.budgetod-live'));
    },

    /* The chart drawn again on a canvas, without animation, then saved: the page's charts are SVG. */
    addPngButton: function (figure, option, height) {
      var self = this;
      var name = (this.el.attr('data-budgetod-file-prefix') || 'budget') + '-' + figure.data('budgetod-chart') + '.png';
      var button = $('<button type="button" class="btn btn-default btn-sm budgetod-png"></button>')
        .text(this._('Chart as PNG'));
      button.on('click', function () {
        var width = figure.find('.budgetod-chart').width();
        var scratch = $('<div aria-hidden="true"></div>').css({position: 'absolute', left: '-10000px', top: 0,
                                                               width: width + 'px', height: height + 'px'});
        $('body').append(scratch);
        var canvas = window.echarts.init(scratch[0], null, {renderer: 'canvas'});
        canvas.setOption(option);
        var link = document.createElement('a');
        link.href = canvas.getDataURL({type: 'png', pixelRatio: 2, backgroundColor: '#ffffff'});
        link.download = name;
        document.body.appendChild(link);
        link.click();
        link.remove();
        canvas.dispose();
        scratch.remove();
        self.el.find('.budgetod-view-status').text(self._('%(file)s downloaded.', {file: name}));
      });
      figure.find('.budgetod-figure-actions').prepend(button);
    },

    addKeyboard: function (container, chart, allSeries, live) {
      var self = this;
      window.budgetodChartKeyboard(container, chart, allSeries, live, function (point) {
        return self._('%(series)s, %(category)s: %(amount)s', {
          series: point.series, category: point.item.category,
          amount: self.formatValue(point.item.exact, point.item.unit)
        });
      });
    },

    /* ------------------------------------------------------------ callbacks */

    _onTooltip: function (params) {
      var data = params.data || {};
      if (data.range) {
        return escapeHtml(params.seriesName) + '<br>' + escapeHtml(data.category) + ': <strong>' +
          escapeHtml(this.formatAmount(data.range[0])) + ' – ' + escapeHtml(this.formatAmount(data.range[1])) +
          '</strong>';
      }
      if (data.exact === undefined) {
        return escapeHtml(params.seriesName);
      }
      var text = escapeHtml(params.seriesName) + '<br>' + this._('%(category)s: %(amount)s', {
        category: escapeHtml(data.category || params.name),
        amount: '<strong>' + escapeHtml(this.formatValue(data.exact, data.unit)) + '</strong>'
      });
      if (data.rate) {
        text += '<br>' + escapeHtml(this._('Execution rate: %(rate)s', {rate: this.percent.format(Number(data.rate))}));
      }
      return text;
    },

    _onCompactAmount: function (value) {
      return this.compact.format(value);
    },

    _onFinished: function (chart) {
      var counted = false;
      return function () {
        // ECharts fires "finished" after every later render too (highlight, resize): count the first.
        if (counted) {
          return;
        }
        counted = true;
        this.pending -= 1;
        if (this.pending === 0) {
          this._onAllDrawn();
        }
      }.bind(this);
    },

    _onAllDrawn: function () {
      this.el.attr('data-budgetod-drawn', 'true');
      if (window.performance && performance.mark) {
        performance.mark('budgetod-collectivite-drawn');
      }
    },

    _onResize: function () {
      // 'auto': the container's size again, no longer the size given at first drawing.
      this.charts.forEach(function (chart) { chart.resize({width: 'auto', height: 'auto'}); });
    }
  };
});
