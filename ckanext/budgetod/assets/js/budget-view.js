/*
 * budgetod-budget-view: draws the charts of a budget visualisation (resource view budgetod_view).
 *
 * The page carries the budget summary (action budgetod_budget_summary) as JSON, and every figure
 * already has its table: this module draws each figure's chart with Apache ECharts, shows it
 * instead of the table, and adds a button to switch between the two. A chart takes the keyboard
 * focus; the arrow keys go through its values, which are announced (screen readers) and shown in
 * the tooltip. When every chart is drawn the module sets data-budgetod-drawn="true" on its element
 * and the performance mark "budgetod-view-drawn".
 */
this.ckan.module('budgetod-budget-view', function ($) {
  'use strict';

  var COLOURS = {
    revenue: '#1f4e9c', revenueOrdre: '#8fb3e8',
    expenditure: '#b8470f', expenditureOrdre: '#f2b48f',
    voted: '#7a7a7a', realised: '#1f4e9c',
    operating: '#1f4e9c', investment: '#b8470f'
  };
  var LARGEST_FUNCTIONS = 15;
  var BAR_ROW_HEIGHT = 26;

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (character) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[character];
    });
  }

  return {
    options: {
      summaryId: null
    },

    initialize: function () {
      $.proxyAll(this, /_on/);
      var english = (document.documentElement.lang || '').indexOf('en') === 0;
      this.locale = english ? 'en-GB' : 'fr-FR';
      this.currency = new Intl.NumberFormat(this.locale, {style: 'currency', currency: 'EUR'});
      this.compact = new Intl.NumberFormat(this.locale, {
        style: 'currency', currency: 'EUR', notation: 'compact', maximumFractionDigits: 1
      });
      this.reducedMotion = window.matchMedia &&
        window.matchMedia('(prefers-reduced-motion: reduce)').matches;
      this.charts = [];
      this.fontFamily = window.getComputedStyle(this.el[0]).fontFamily;

      var source = document.getElementById(this.options.summaryId);
      if (!source) {
        return;
      }
      if (typeof window.echarts === 'undefined') {
        this.el.find('.budgetod-view-status').text(
          this._('The charts could not be drawn: the tables below give the same figures.'));
        return;
      }
      this.summary = JSON.parse(source.textContent);
      var figures = this.el.find('[data-budgetod-chart]');
      this.pending = figures.length;
      figures.each(function (index, figure) {
        this._drawFigure($(figure));
      }.bind(this));
      $(window).on('resize', this._onResize);
    },

    /* Amounts are exact decimal strings: Intl formats a string without going through a float. */
    formatAmount: function (exact) {
      return this.currency.format(exact);
    },

    sectionLabel: function (section) {
      return {fonctionnement: this._('Operating'), investissement: this._('Investment')}[section] || section;
    },

    directionLabel: function (section, codrd) {
      var labels = {
        'fonctionnement recette': this._('Operating revenue'),
        'fonctionnement dépense': this._('Operating expenditure'),
        'investissement recette': this._('Investment revenue'),
        'investissement dépense': this._('Investment expenditure')
      };
      return labels[section + ' ' + codrd] || (section + ' ' + codrd);
    },

    total: function (section, codrd, opbudg, field) {
      var found = this.summary.totals.filter(function (item) {
        return item.section === section && item.codrd === codrd && item.opbudg === opbudg;
      })[0];
      return found ? found[field || 'amount'] : '0';
    },

    point: function (exact, category) {
      return {value: Number(exact), exact: exact, category: category};
    },

    /* ------------------------------------------------------------ chart options */

    sectionsOption: function () {
      var sections = ['fonctionnement', 'investissement'];
      var categories = sections.map(this.sectionLabel.bind(this));
      var series = [
        ['recette', 'réel', this._('Real revenue'), COLOURS.revenue],
        ['recette', 'ordre', this._('Ordre revenue'), COLOURS.revenueOrdre],
        ['dépense', 'réel', this._('Real expenditure'), COLOURS.expenditure],
        ['dépense', 'ordre', this._('Ordre expenditure'), COLOURS.expenditureOrdre]
      ].map(function (spec) {
        return {
          name: spec[2], type: 'bar', stack: spec[0], itemStyle: {color: spec[3]},
          data: sections.map(function (section, index) {
            return this.point(this.total(section, spec[0], spec[1]), categories[index]);
          }.bind(this))
        };
      }.bind(this));
      return this.columnOption(categories, series);
    },

    votedOption: function () {
      var pairs = [['fonctionnement', 'recette'], ['fonctionnement', 'dépense'],
                   ['investissement', 'recette'], ['investissement', 'dépense']];
      var categories = pairs.map(function (pair) { return this.directionLabel(pair[0], pair[1]); }.bind(this));
      var series = [
        ['voted', this._('Voted (opened credits)'), COLOURS.voted],
        ['amount', this._('Realised'), COLOURS.realised]
      ].map(function (spec) {
        return {
          name: spec[1], type: 'bar', itemStyle: {color: spec[2]},
          data: pairs.map(function (pair, index) {
            return this.point(this.total(pair[0], pair[1], 'réel', spec[0]), categories[index]);
          }.bind(this))
        };
      }.bind(this));
      return this.columnOption(categories, series);
    },

    chaptersOption: function (codrd) {
      var chapters = this.summary.chapters.filter(function (item) { return item.codrd === codrd; })
        .sort(function (a, b) { return Number(b.amount) - Number(a.amount); });
      var categories = chapters.map(function (item) { return (item.code + ' ' + item.label).trim(); });
      var series = [['fonctionnement', COLOURS.operating], ['investissement', COLOURS.investment]]
        .map(function (spec) {
          return {
            name: this.sectionLabel(spec[0]), type: 'bar', stack: 'chapters', itemStyle: {color: spec[1]},
            data: chapters.map(function (item, index) {
              return item.section === spec[0] ? this.point(item.amount, categories[index]) : '-';
            }.bind(this))
          };
        }.bind(this));
      return this.barOption(categories, series);
    },

    functionsOption: function () {
      var functions = this.summary.functions.filter(function (item) { return item.codrd === 'dépense'; })
        .slice(0, LARGEST_FUNCTIONS);
      var categories = functions.map(function (item) { return (item.code + ' ' + item.label).trim(); });
      return this.barOption(categories, [{
        name: this._('Real expenditure'), type: 'bar', itemStyle: {color: COLOURS.expenditure},
        data: functions.map(function (item, index) { return this.point(item.amount, categories[index]); }.bind(this))
      }]);
    },

    baseOption: function (series) {
      return {
        animation: !this.reducedMotion,
        animationDuration: 300,
        aria: {enabled: false},
        // ECharts measures its labels with this font: the page's, not "inherit".
        textStyle: {fontFamily: this.fontFamily},
        legend: {top: 0, data: series.map(function (item) { return item.name; })},
        tooltip: {trigger: 'item', confine: true, transitionDuration: 0, className: 'budgetod-tooltip', formatter: this._onTooltip},
        series: series
      };
    },

    /* Vertical bars: few categories. */
    columnOption: function (categories, series) {
      var option = this.baseOption(series);
      option.grid = {left: 8, right: 8, top: 48, bottom: 8, containLabel: true};
      option.xAxis = {type: 'category', data: categories, axisLabel: {interval: 0, width: 150, overflow: 'break', lineHeight: 14}};
      option.yAxis = {type: 'value', axisLabel: {formatter: this._onCompactAmount}};
      return option;
    },

    /* Horizontal bars, largest first: long labels, many categories. */
    barOption: function (categories, series) {
      var option = this.baseOption(series);
      option.grid = {left: 8, right: 24, top: 40, bottom: 8, containLabel: true};
      option.yAxis = {type: 'category', inverse: true, data: categories,
                      axisLabel: {width: 260, overflow: 'truncate'}};
      option.xAxis = {type: 'value', axisLabel: {formatter: this._onCompactAmount}};
      return option;
    },

    /* ------------------------------------------------------------ figures */

    _drawFigure: function (figure) {
      var kind = figure.data('budgetod-chart');
      var option = {
        sections: this.sectionsOption,
        voted: this.votedOption,
        'chapters-expenditure': function () { return this.chaptersOption('dépense'); },
        'chapters-revenue': function () { return this.chaptersOption('recette'); },
        functions: this.functionsOption
      }[kind].call(this);
      var container = figure.find('.budgetod-chart');
      var table = figure.find('.budgetod-table');
      var title = figure.find('.budgetod-figure-title').text().trim();
      var horizontal = option.yAxis.type === 'category';
      var height = horizontal ? 64 + BAR_ROW_HEIGHT * option.yAxis.data.length : 360;
      container.css('height', height + 'px').prop('hidden', false).attr({
        tabindex: 0,
        role: 'img',
        'aria-label': this._('%(title)s: chart. Use the arrow keys to read its values one by one.', {title: title})
      });
      table.prop('hidden', true);

      var chart = window.echarts.init(container[0], null, {renderer: 'svg'});
      chart.on('finished', this._onFinished(chart));
      chart.setOption(option);
      this.charts.push(chart);
      this.addToggle(figure, container, table, chart);
      this.addKeyboard(container, chart, option.series, figure.find('.budgetod-live'));
    },

    addToggle: function (figure, container, table, chart) {
      var showTable = this._('Show as a table');
      var showChart = this._('Show as a chart');
      var button = $('<button type="button" class="btn btn-default btn-sm budgetod-toggle"></button>')
        .text(showTable)
        .attr('aria-controls', container.attr('id') + ' ' + table.attr('id'));
      button.on('click', function () {
        var tableShown = !table.prop('hidden');
        table.prop('hidden', tableShown);
        container.prop('hidden', !tableShown);
        button.text(tableShown ? showTable : showChart);
        if (tableShown) {
          chart.resize();
        }
      });
      figure.find('.budgetod-figure-actions').append(button);
    },

    addKeyboard: function (container, chart, allSeries, live) {
      var self = this;
      window.budgetodChartKeyboard(container, chart, allSeries, live, function (point) {
        return self._('%(series)s, %(category)s: %(amount)s', {
          series: point.series, category: point.item.category, amount: self.formatAmount(point.item.exact)
        });
      });
    },

    /* ------------------------------------------------------------ callbacks */

    _onTooltip: function (params) {
      var data = params.data || {};
      return escapeHtml(params.seriesName) + '<br>' + this._('%(category)s: %(amount)s', {
        category: escapeHtml(data.category || params.name),
        amount: '<strong>' + escapeHtml(this.formatAmount(data.exact)) + '</strong>'
      });
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
          this.el.attr('data-budgetod-drawn', 'true');
          if (window.performance && performance.mark) {
            performance.mark('budgetod-view-drawn');
          }
        }
      }.bind(this);
    },

    _onResize: function () {
      this.charts.forEach(function (chart) { chart.resize(); });
    }
  };
});
